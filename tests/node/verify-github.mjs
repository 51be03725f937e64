// Checks GitHub-format deliveries the way a receiver written for GitHub would:
// Octokit verifies each signature (and must reject a tampered body), and the body must
// validate against GitHub's published push-event schema (@octokit/webhooks-schemas).
//
//   node verify-github.mjs SECRET DELIVERIES.json
// DELIVERIES.json: [{"headers": {...}, "body": "<exact body>"}, ...]
// Prints one line per delivery; exits 1 when any check fails.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { Webhooks } from "@octokit/webhooks";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const require = createRequire(import.meta.url);
const schema = require("@octokit/webhooks-schemas");
const [secret, file] = process.argv.slice(2);
const deliveries = JSON.parse(readFileSync(file, "utf8"));
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(schema, "webhooks");
const validate = ajv.getSchema("webhooks#/definitions/push$event");
const webhooks = new Webhooks({ secret });
let received = 0;
webhooks.on("push", () => { received += 1; });

let failed = false;
for (const delivery of deliveries) {
  const header = (name) => delivery.headers[Object.keys(delivery.headers).find((key) => key.toLowerCase() === name)];
  const id = header("x-github-delivery");
  const problems = [];
  if (header("x-github-event") !== "push") problems.push("X-GitHub-Event is not push");
  if (header("content-type") !== "application/json") problems.push("Content-Type is not application/json");
  try {
    await webhooks.verifyAndReceive({ id, name: "push", signature: header("x-hub-signature-256"), payload: delivery.body });
  } catch (error) {
    problems.push(`signature: ${error.message}`);
  }
  const tampered = delivery.body.replace('"ref"', '"ref" ');
  try {
    await webhooks.verifyAndReceive({ id, name: "push", signature: header("x-hub-signature-256"), payload: tampered });
    problems.push("a tampered body was accepted");
  } catch (error) {
    // expected
  }
  const event = JSON.parse(delivery.body);
  if (!validate(event)) {
    problems.push("schema: " + ajv.errorsText(validate.errors, { separator: "; " }).slice(0, 1500));
  }
  if (problems.length) failed = true;
  console.log(`${id} ${event.ref} ${problems.length ? "FAIL " + problems.join(" | ") : "ok"}`);
}
console.log(`received ${received}`);
process.exit(failed ? 1 : 0);

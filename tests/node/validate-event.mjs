// Validates one GitHub webhook body against GitHub's published schema
// (@octokit/webhooks-schemas), as a receiver written for GitHub would expect it.
//
//   node validate-event.mjs EVENT BODY.json      (EVENT: ping, push, …)
// Prints "ok" or the schema's complaints; exits 1 when it does not validate.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import Ajv from "ajv";
import addFormats from "ajv-formats";

const require = createRequire(import.meta.url);
const schema = require("@octokit/webhooks-schemas");
const [event, file] = process.argv.slice(2);
const ajv = new Ajv({ strict: false, allErrors: true });
addFormats(ajv);
ajv.addSchema(schema, "webhooks");
const validate = ajv.getSchema(`webhooks#/definitions/${event}$event`);
const body = JSON.parse(readFileSync(file, "utf8"));
if (validate(body)) {
  console.log("ok");
} else {
  console.log(ajv.errorsText(validate.errors, { separator: "; " }).slice(0, 1500));
  process.exit(1);
}

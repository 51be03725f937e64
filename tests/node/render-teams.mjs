// Renders pushbroker's Teams messages with Microsoft's Adaptive Cards SDK (3.x) in jsdom,
// markdown-it as its markdown processor (as Teams does), and prints what a reader sees.
//
// Usage: node render-teams.mjs MESSAGES.json
// MESSAGES.json: a list of Teams webhook bodies ({"type": "message", "attachments": [...]}).
// Prints one JSON list, per message: {"errors": [...], "texts": [...]}: the SDK's parse
// and validation failures, and each TextBlock's rendered text, in order.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { JSDOM } from "jsdom";
import MarkdownIt from "markdown-it";

const dom = new JSDOM("<!DOCTYPE html><html><body></body></html>");
globalThis.window = dom.window;
globalThis.document = dom.window.document;
for (const name of Object.getOwnPropertyNames(dom.window)) {
  if (/^(HTML|SVG)\w*Element$|^(Node|Element|Event|KeyboardEvent|MouseEvent|navigator|getComputedStyle)$/.test(name) && !(name in globalThis)) {
    globalThis[name] = dom.window[name];
  }
}
// The SDK's own bundle (its lib/ is ESM that Node cannot resolve), loaded after the DOM.
const AC = createRequire(import.meta.url)("adaptivecards/dist/adaptivecards.js");
const markdown = new MarkdownIt();
AC.AdaptiveCard.onProcessMarkdown = (text, result) => {
  result.outputHtml = markdown.render(text);
  result.didProcess = true;
};

const messages = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = messages.map((message) => {
  const errors = [];
  const attachment = message.attachments?.[0];
  if (message.type !== "message" || attachment?.contentType !== "application/vnd.microsoft.card.adaptive") {
    errors.push("not a Teams message with an Adaptive Card attachment");
    return { errors, texts: [] };
  }
  const card = new AC.AdaptiveCard();
  const context = new AC.SerializationContext();
  card.parse(attachment.content, context);
  for (let i = 0; i < context.eventCount; i++) {
    const event = context.getEventAt(i);
    errors.push(`parse: ${event.message}`);
  }
  for (const event of card.validateProperties().validationEvents) {
    errors.push(`validate: ${event.message}`);
  }
  const element = card.render();
  document.body.appendChild(element);
  const texts = [];
  for (let i = 0; i < card.getItemCount(); i++) {
    const item = card.getItemAt(i);
    if (item instanceof AC.TextBlock) {
      texts.push(item.renderedElement.textContent.trim());
    }
  }
  const links = [...element.querySelectorAll("a")].map((a) => a.getAttribute("href"));
  return { errors, texts, links, bytes: Buffer.byteLength(JSON.stringify(message)) };
});
console.log(JSON.stringify(results));

/**
 * A small, strict XML reader for libvirt domain XML (`virsh dumpxml`). It builds an element tree
 * and reports, rather than throws, anything that is not well-formed: a dump cut off by a dropped
 * SSH session must fail verification with "truncated", not pass on the part that arrived.
 * Not supported (libvirt never writes them): DTD internal subsets, entities other than XML's five.
 */
import { codedError, hasCode } from "../errors";

export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  /** The element's own character data, entities decoded, not trimmed. */
  text: string;
  line: number;
}

export type XmlParse = { ok: true; root: XmlElement } | { ok: false; error: string };

const NAME = "[A-Za-z_][\\w.:-]*";
const OPEN_TAG = new RegExp(`<(${NAME})((?:\\s+${NAME}\\s*=\\s*(?:"[^"<]*"|'[^'<]*'))*)\\s*(/?)>`, "y");
const ATTR = new RegExp(`(${NAME})\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, "g");
const CLOSE_TAG = new RegExp(`</(${NAME})\\s*>`, "y");
const ENTITY = /&(#x[0-9a-fA-F]+|#\d+|lt|gt|amp|quot|apos);|&/g;
const NAMED: Record<string, string> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

const xmlSyntaxError = (message: string) => codedError("XML_SYNTAX", message);

function lineAt(text: string, index: number): number {
  let n = 1;
  for (let i = 0; i < index; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}

function decode(raw: string, line: number): string {
  return raw.replace(ENTITY, (whole, ref: string | undefined) => {
    if (ref === undefined) throw xmlSyntaxError(`a bare "&" on line ${line}`);
    if (ref in NAMED) return NAMED[ref];
    const code = ref.startsWith("#x") ? parseInt(ref.slice(2), 16) : Number(ref.slice(1));
    if (code > 0x10ffff) throw xmlSyntaxError(`character reference ${whole} on line ${line} is out of range`);
    return String.fromCodePoint(code);
  });
}

/** Skips a construct that ends with `end` (comment, CDATA, declaration); returns the index after it. */
function skipTo(text: string, from: number, end: string, what: string): number {
  const at = text.indexOf(end, from);
  if (at < 0) throw xmlSyntaxError(`${what} starting on line ${lineAt(text, from)} is never closed (truncated?)`);
  return at + end.length;
}

function parseTree(text: string): XmlElement {
  const stack: XmlElement[] = [];
  let root: XmlElement | null = null;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const addText = (chunk: string, at: number) => {
    const top = stack[stack.length - 1];
    if (top) top.text += chunk;
    else if (chunk.trim() !== "")
      throw xmlSyntaxError(
        `text outside the root element on line ${lineAt(text, at)}: ${JSON.stringify(chunk.trim().slice(0, 30))}`,
      );
  };
  while (i < text.length) {
    const lt = text.indexOf("<", i);
    if (lt < 0) {
      addText(decode(text.slice(i), lineAt(text, i)), i);
      break;
    }
    if (lt > i) addText(decode(text.slice(i, lt), lineAt(text, i)), i);
    if (text.startsWith("<!--", lt)) {
      i = skipTo(text, lt + 4, "-->", "a comment");
    } else if (text.startsWith("<![CDATA[", lt)) {
      i = skipTo(text, lt + 9, "]]>", "a CDATA section");
      addText(text.slice(lt + 9, i - 3), lt);
    } else if (text.startsWith("<?", lt)) {
      i = skipTo(text, lt + 2, "?>", "a processing instruction");
    } else if (text.startsWith("<!", lt)) {
      i = skipTo(text, lt + 2, ">", "a declaration");
    } else if (text.startsWith("</", lt)) {
      CLOSE_TAG.lastIndex = lt;
      const m = CLOSE_TAG.exec(text);
      if (!m) throw xmlSyntaxError(`malformed closing tag on line ${lineAt(text, lt)}`);
      const top = stack.pop();
      if (!top) throw xmlSyntaxError(`closing </${m[1]}> on line ${lineAt(text, lt)} has no opening tag`);
      if (top.name !== m[1])
        throw xmlSyntaxError(
          `closing </${m[1]}> on line ${lineAt(text, lt)} does not match <${top.name}> opened on line ${top.line}`,
        );
      i = CLOSE_TAG.lastIndex;
    } else {
      OPEN_TAG.lastIndex = lt;
      const m = OPEN_TAG.exec(text);
      const line = lineAt(text, lt);
      if (!m)
        throw xmlSyntaxError(`malformed or cut-off tag on line ${line}: ${JSON.stringify(text.slice(lt, lt + 40))}`);
      const el: XmlElement = { name: m[1], attrs: {}, children: [], text: "", line };
      for (const a of m[2].matchAll(ATTR)) {
        if (a[1] in el.attrs) throw xmlSyntaxError(`attribute ${a[1]} appears twice in <${m[1]}> on line ${line}`);
        el.attrs[a[1]] = decode(a[2] ?? a[3], line);
      }
      const parent = stack[stack.length - 1];
      if (parent) parent.children.push(el);
      else if (root) throw xmlSyntaxError(`a second root element <${m[1]}> on line ${line}`);
      else root = el;
      if (m[3] !== "/") stack.push(el);
      i = OPEN_TAG.lastIndex;
    }
  }
  const open = stack[stack.length - 1];
  if (open) throw xmlSyntaxError(`<${open.name}> opened on line ${open.line} is never closed (truncated?)`);
  if (!root) throw xmlSyntaxError("no XML element found");
  return root;
}

export function parseXml(text: string): XmlParse {
  try {
    return { ok: true, root: parseTree(text) };
  } catch (e) {
    if (hasCode(e, "XML_SYNTAX")) return { ok: false, error: e.message };
    throw e;
  }
}

export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

export function firstChild(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

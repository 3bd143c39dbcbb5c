/**
 * Text that came from a host or a file (facts, stderr, YAML keys, values quoted in messages),
 * made safe to print on a terminal: every character a terminal acts on instead of showing is
 * written as an escape. ESC starts colour, cursor and OSC sequences (which can retitle the
 * window, rewrite the clipboard or hide what follows), CR and BS overwrite a line that was
 * printed, BEL rings; the C1 controls U+0080-U+009F are 8-bit ESC sequences (U+009B is CSI) on
 * terminals that read them; the bidirectional overrides and isolates (U+202A-U+202E,
 * U+2066-U+2069) reorder what is shown, and U+2028/U+2029 break lines. This is the one place
 * that decides it: every boundary where such text reaches a terminal goes through terminalText.
 */

// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE_MULTILINE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const UNSAFE_ONE_LINE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

const NAMED: Record<string, string> = { "\n": "\\n", "\r": "\\r", "\t": "\\t", "\u001b": "\\e", "\u0007": "\\a" };

function escape(c: string): string {
  const code = c.charCodeAt(0);
  return NAMED[c] ?? (code < 0x100 ? `\\x${code.toString(16).padStart(2, "0")}` : `\\u${code.toString(16)}`);
}

/**
 * The text with every character a terminal would act on escaped (ESC as `\e`, CR as `\r`, BEL as
 * `\a`, others as `\xHH` or `\uHHHH`). With `multiline`, newlines and tabs stay as they are (host
 * output that is shown as lines); otherwise they are escaped too, and the result is one line.
 */
export function terminalText(text: string, opts: { multiline?: boolean } = {}): string {
  return text.replace(opts.multiline ? UNSAFE_MULTILINE : UNSAFE_ONE_LINE, escape);
}

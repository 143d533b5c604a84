/**
 * A Redis Cluster's redirection replies (`MOVED`/`ASK` after a resharding, `TRYAGAIN` and `CLUSTERDOWN`
 * while one is under way): the client sends the command again, elsewhere or later, so the attempt they
 * answered is not a call of its own. The preload keeps one span across the attempts where it can; a
 * span per attempt (another SDK's, the preload's on node-redis 4) ends as an error whose status message
 * is the reply (`MOVED 3999 10.0.0.7:6379`) or, from the preload, its class and label (`ErrorReply MOVED`,
 * end-span.ts), or the reply after one word (`Error: MOVED …`, as String(err) writes it).
 */
const LABELS = ['MOVED', 'ASK', 'TRYAGAIN', 'CLUSTERDOWN'];
const LABEL_BYTES = LABELS.map((label) => Buffer.from(label, 'latin1'));
const REDIRECTION = new RegExp(`^(?:[^ ]{1,64} )?(?:${LABELS.join('|')})(?: |$)`);
/** The longest word before a label (a class name, as end-span.ts writes it). */
const MAX_CLASS_BYTES = 64;
const SPACE = 0x20;

export function isRedisRedirection(message: string): boolean {
  return REDIRECTION.test(message);
}

/**
 * isRedisRedirection on a status message's UTF-8 bytes, buf[start, end), without decoding them: the
 * protobuf decoder reads every error span's message, and a string and a RegExp per message cost the
 * decode ~1% of its instructions in `bench:instructions` (its mix's errors say `failed`).
 */
export function isRedisRedirectionBytes(buf: Uint8Array, start: number, end: number): boolean {
  if (labelAt(buf, start, end)) return true;
  const last = Math.min(end, start + MAX_CLASS_BYTES + 1);
  for (let i = start; i < last; i++) if (buf[i] === SPACE) return labelAt(buf, i + 1, end);
  return false;
}

/** One of LABELS at buf[at], followed by a space or the end. */
function labelAt(buf: Uint8Array, at: number, end: number): boolean {
  for (const label of LABEL_BYTES) {
    const after = at + label.length;
    if (after > end || buf[at] !== label[0]) continue;
    let i = 1;
    while (i < label.length && buf[at + i] === label[i]) i++;
    if (i === label.length && (after === end || buf[after] === SPACE)) return true;
  }
  return false;
}

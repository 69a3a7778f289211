/**
 * The few SDP edits the app makes to what the browser generates (RFC 8866 lines, RFC 7587
 * Opus parameters). Plain functions over SDP text, no DOM, so they run in tests as they do
 * in the page.
 *
 * - Opus fmtp parameters: `useinbandfec=1` asks the peer's encoder for in-band forward error
 *   correction (a lost 20 ms frame rebuilt from the next packet), `stereo=0` says we want
 *   mono. An fmtp line states what its writer prefers to receive, so the capture page sets
 *   them on its offer (as asked) and on the relay's answer before applying it (which is what
 *   makes Chromium's own encoder put FEC in the packets it sends).
 * - mDNS candidates: browsers hide private addresses behind `<uuid>.local` names, which the
 *   relay does not resolve. They are dropped from the offer; on loopback Chromium gives
 *   127.0.0.1 host candidates only when started with `--allow-loopback-in-peer-connection`.
 */

export type FmtpParams = Record<string, string | number>;

/** The SDP's line break: CRLF (RFC 8866 §5), which browsers write; LF-only input is accepted. */
function splitLines(sdp: string): string[] {
  const lines = sdp.split(/\r?\n/);
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
}

function joinLines(lines: string[]): string {
  return `${lines.join('\r\n')}\r\n`;
}

/** Payload types mapped to Opus (`a=rtpmap:<pt> opus/48000/2`), in order. */
export function opusPayloadTypes(sdp: string): number[] {
  const out: number[] = [];
  for (const line of splitLines(sdp)) {
    const m = /^a=rtpmap:(\d+) opus\/48000(?:\/\d+)?$/i.exec(line);
    if (m !== null) out.push(Number(m[1]));
  }
  return out;
}

/** `a=fmtp` parameters as an ordered map (`minptime=10;useinbandfec=1`). */
export function parseFmtp(params: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of params.split(';')) {
    const p = part.trim();
    if (p === '') continue;
    const eq = p.indexOf('=');
    if (eq < 0) out.set(p, '');
    else out.set(p.slice(0, eq).trim(), p.slice(eq + 1).trim());
  }
  return out;
}

function formatFmtp(params: Map<string, string>): string {
  return [...params].map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(';');
}

/**
 * Sets `params` on the fmtp line of every Opus payload type (keeping its other parameters
 * and their order), adding the line after the rtpmap where there is none. SDP without Opus
 * comes back unchanged.
 */
export function setOpusFmtp(sdp: string, params: FmtpParams): string {
  const pts = new Set(opusPayloadTypes(sdp));
  if (pts.size === 0) return sdp;
  const lines = splitLines(sdp);
  const withFmtp = new Set<number>();
  const out: string[] = [];
  for (const line of lines) {
    const m = /^a=fmtp:(\d+) ?(.*)$/.exec(line);
    if (m !== null && pts.has(Number(m[1]))) {
      const merged = parseFmtp(m[2]);
      for (const [k, v] of Object.entries(params)) merged.set(k, String(v));
      out.push(`a=fmtp:${m[1]} ${formatFmtp(merged)}`);
      withFmtp.add(Number(m[1]));
    } else {
      out.push(line);
    }
  }
  // Opus payload types that had no fmtp line get one right after their rtpmap.
  for (const pt of pts) {
    if (withFmtp.has(pt)) continue;
    const at = out.findIndex((l) => new RegExp(`^a=rtpmap:${pt} opus/`, 'i').test(l));
    const fresh = new Map(Object.entries(params).map(([k, v]) => [k, String(v)]));
    out.splice(at + 1, 0, `a=fmtp:${pt} ${formatFmtp(fresh)}`);
  }
  return joinLines(out);
}

/** The Opus fmtp parameters of the first Opus payload type, or null when there is no Opus. */
export function opusFmtp(sdp: string): Map<string, string> | null {
  const pt = opusPayloadTypes(sdp)[0];
  if (pt === undefined) return null;
  for (const line of splitLines(sdp)) {
    const m = /^a=fmtp:(\d+) ?(.*)$/.exec(line);
    if (m !== null && Number(m[1]) === pt) return parseFmtp(m[2]);
  }
  return new Map();
}

/** True for an ICE candidate line whose address is an mDNS name (`<uuid>.local`). */
export function isMdnsCandidate(line: string): boolean {
  // candidate:<foundation> <component> <transport> <priority> <address> <port> typ ... (RFC 8839 §5.1)
  const m = /^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ /i.exec(line);
  return m !== null && m[1].toLowerCase().endsWith('.local');
}

/** Drops mDNS host candidates; returns the SDP and how many went. */
export function stripMdnsCandidates(sdp: string): { sdp: string; dropped: number } {
  const lines = splitLines(sdp);
  const kept = lines.filter((l) => !isMdnsCandidate(l));
  return { sdp: joinLines(kept), dropped: lines.length - kept.length };
}

/** The addresses of the SDP's ICE candidates (for diagnostics: "no usable candidate"). */
export function candidateAddresses(sdp: string): string[] {
  const out: string[] = [];
  for (const line of splitLines(sdp)) {
    const m = /^a=candidate:\S+ \d+ \S+ \d+ (\S+) \d+ typ /i.exec(line);
    if (m !== null) out.push(m[1]);
  }
  return out;
}

/** What the app asks of Opus on every WebRTC leg: FEC on, mono. */
export const OPUS_FMTP: FmtpParams = { useinbandfec: 1, stereo: 0 };

import type { Opt, QuestionSpec } from './types';

export function opts(list: (string | Opt)[] | undefined | null): Opt[] {
  return (list ?? []).map((o) => (typeof o === 'string' ? { value: o, text: o } : { value: o.value, text: o.text || o.value }));
}

export const DEFAULT_VERDICTS: Opt[] = [
  { value: 'correct', text: 'Correct' },
  { value: 'wrong_tool', text: 'Wrong tool' },
  { value: 'wrong_arguments', text: 'Wrong arguments' },
  { value: 'unnecessary', text: 'Unnecessary' },
  { value: 'harmful', text: 'Harmful' },
];

export function verdicts(q: QuestionSpec): Opt[] {
  return q.verdicts && q.verdicts.length ? opts(q.verdicts) : DEFAULT_VERDICTS;
}

export function ratingRange(q: QuestionSpec): [number, number] {
  let lo = q.min ?? null;
  let hi = q.max ?? null;
  if (lo == null && hi == null) return [1, q.scale ?? 5];
  if (lo == null) lo = hi! - (q.scale ?? 5) + 1;
  if (hi == null) hi = lo + (q.scale ?? 5) - 1;
  return [lo, hi];
}

/** A comparison candidate's id: its `id`, else its `model`, else its index. */
export function candidateId(c: any, i: number): string {
  if (c && typeof c === 'object') {
    if (c.id != null && c.id !== '') return String(c.id);
    if (c.model != null && c.model !== '') return String(c.model);
  }
  return String(i);
}

export function mediaUrl(v: any): string {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof v.url === 'string') return v.url;
  return '';
}

// Whether the server serves a media URL itself: a path (no scheme, a local file) or an object in a
// bucket (s3://, gs://, az://, streamed by the server); web and data: URLs the browser loads itself.
export function isServedMedia(url: string): boolean {
  if (!url || url.startsWith('//')) return false;
  return !/^[a-z][a-z0-9+.-]*:/i.test(url) || /^(s3|gs|az):\/\//i.test(url);
}

// A media value the server serves is shown, for the record it belongs to, through
// /api/v1/records/{id}/media/{field}: the value, with its URL pointed there.
export function servedMedia(v: any, record: string | number | null | undefined, field: string): any {
  const url = mediaUrl(v);
  if (record == null || !isServedMedia(url)) return v;
  const local = `/api/v1/records/${record}/media/${encodeURIComponent(field)}`;
  return typeof v === 'string' ? local : { ...v, url: local };
}

export function steps(v: any): any[] {
  if (Array.isArray(v)) return v;
  if (v && Array.isArray(v.steps)) return v.steps;
  return [];
}

export function title(x: { name: string; title?: string | null }): string {
  return x.title || x.name;
}

export function isEmpty(v: any): boolean {
  if (v === undefined || v === null || v === '') return true;
  if (Array.isArray(v)) return v.length === 0;
  if (typeof v === 'object') return Object.keys(v).length === 0;
  return false;
}

export function uuid(): string {
  if (crypto && 'randomUUID' in crypto) return crypto.randomUUID();
  return 'k' + Math.random().toString(36).slice(2) + Date.now().toString(36);
}

export function fmtValue(v: any): string {
  if (v === undefined || v === null) return '—';
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

const plural = (n: number, one: string, many = one + 's') => `${n} ${n === 1 ? one : many}`;

/** An answer as a person reads it (not JSON): "b, strength 2", "a > c > b", "2 spans: PER, ORG". */
export function fmtAnswer(q: { type: string }, v: any): string {
  if (v === undefined || v === null) return '—';
  switch (q.type) {
    case 'preference':
      if (typeof v !== 'object') break;
      return v.choice === 'tie' ? 'tie' : `${v.choice}${v.strength != null ? `, strength ${v.strength}` : ''}`;
    case 'ranking':
      if (Array.isArray(v)) return v.join(' > ');
      break;
    case 'multi_label':
      if (Array.isArray(v)) return v.length ? v.join(', ') : 'none';
      break;
    case 'span':
    case 'bbox':
    case 'polygon':
    case 'keypoints':
    case 'segment': {
      if (!Array.isArray(v)) break;
      const labels = [...new Set(v.map((x: any) => x?.label).filter(Boolean))];
      return plural(v.length, q.type === 'bbox' ? 'box' : q.type === 'keypoints' ? 'pose' : q.type) + (labels.length ? `: ${labels.join(', ')}` : '');
    }
    case 'step_review': {
      if (typeof v !== 'object') break;
      const counts: Record<string, number> = {};
      for (const s of Object.values(v) as any[]) counts[s?.verdict ?? '?'] = (counts[s?.verdict ?? '?'] ?? 0) + 1;
      const n = Object.keys(v).length;
      return `${plural(n, 'step')} judged` + (n ? `: ${Object.entries(counts).map(([k, c]) => `${c} ${k.replace(/_/g, ' ')}`).join(', ')}` : '');
    }
  }
  return fmtValue(v);
}

export function pretty(v: any): string {
  if (typeof v === 'string') return v;
  try {
    return JSON.stringify(v, null, 2);
  } catch {
    return String(v);
  }
}

export function pct(x: number | null | undefined, digits = 0): string {
  if (x == null || Number.isNaN(x)) return '—';
  return (x * 100).toFixed(digits) + '%';
}

export function num(x: number | null | undefined, digits = 2): string {
  if (x == null || Number.isNaN(x)) return '—';
  return Number.isInteger(x) ? String(x) : x.toFixed(digits);
}

export function inEditable(t: EventTarget | null): boolean {
  const el = t as HTMLElement | null;
  if (!el || !el.tagName) return false;
  const tag = el.tagName;
  if (tag === 'TEXTAREA' || tag === 'SELECT') return true;
  if (tag === 'INPUT') {
    const type = (el as HTMLInputElement).type;
    return !['checkbox', 'radio', 'button', 'submit', 'range'].includes(type);
  }
  return el.isContentEditable;
}

/** Characters ``start`` to ``end`` of ``text`` counted in Unicode code points (as span offsets are). */
export function cpSlice(text: string, start: number, end: number): string {
  return Array.from(text).slice(start, end).join('');
}

// Content warnings and exposure time. A project marks content as sensitive (content_warning on the
// project, sensitive: true on a field or question); the UI shows it blurred behind a warning until
// the person reveals it, and reports each stretch it stayed revealed (while the page is visible) to
// POST /projects/{id}/exposure, so that the time people spend with disturbing content is known.
import { getContext, setContext } from 'svelte';
import { BASE, csrfToken } from './api';
import type { Schema } from './types';

export interface Block {
  readonly revealed: boolean;
  set(v: boolean): void;
}

export class ExposureClock {
  private open = 0;
  private since: number | null = null;
  private record: string | number | null = null;
  private blocks = new Set<Block>();
  /** Milliseconds revealed on this page so far (for the "today" figure shown beside it). */
  seen = $state(0);

  constructor(
    private projectId: string | number,
    private context: 'work' | 'review' | 'dashboard',
  ) {}

  private start() {
    if (this.since === null && this.open > 0 && document.visibilityState === 'visible') this.since = performance.now();
  }

  private stop() {
    if (this.since === null) return;
    const ms = Math.round(performance.now() - this.since);
    this.since = null;
    if (ms < 1) return;
    this.seen += ms;
    const body: Record<string, unknown> = { ms, context: this.context };
    const rid = Number(this.record);
    if (this.record !== null && Number.isInteger(rid) && rid > 0) body.record_id = rid;
    // keepalive: the report still goes out when the page is being closed
    fetch(`${BASE}/projects/${this.projectId}/exposure`, {
      method: 'POST',
      keepalive: true,
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json', 'X-CSRF-Token': csrfToken() },
      body: JSON.stringify(body),
    }).catch(() => {});
  }

  /** A block of the record's content was revealed. */
  reveal(record: string | number | null) {
    if (this.open > 0 && record !== this.record) this.stop();
    this.record = record;
    this.open++;
    this.start();
  }

  /** A revealed block was hidden again or left the page. */
  hide() {
    this.open = Math.max(0, this.open - 1);
    if (this.open === 0) this.stop();
  }

  /** The page was hidden (another tab, closed) or shown again. */
  visibility() {
    if (document.visibilityState === 'visible') this.start();
    else this.stop();
  }

  register(b: Block): () => void {
    this.blocks.add(b);
    return () => this.blocks.delete(b);
  }

  /** The `v` key: reveal every hidden block of the record, or hide them all when none is hidden. */
  toggleAll() {
    const all = [...this.blocks];
    const anyHidden = all.some((b) => !b.revealed);
    for (const b of all) b.set(anyHidden);
  }

  get hasBlocks() {
    return this.blocks.size > 0;
  }

  /** Listen to the page's visibility; returns the function that stops listening (and the clock). */
  listen(): () => void {
    const vis = () => this.visibility();
    const gone = () => this.stop();
    document.addEventListener('visibilitychange', vis);
    window.addEventListener('pagehide', gone);
    return () => {
      document.removeEventListener('visibilitychange', vis);
      window.removeEventListener('pagehide', gone);
      this.stop();
    };
  }
}

export class Warning {
  fields = $state(new Set<string>());
  questions = $state(new Set<string>());
  message = $state('');
  active = $state(false);
  constructor(public clock: ExposureClock) {}

  /** Take the project's schema (once it has loaded). */
  load(schema: Schema) {
    const s = sensitiveNames(schema);
    this.fields = s.fields;
    this.questions = s.questions;
    this.message = schema.content_warning ?? '';
    this.active = s.fields.size > 0 || s.questions.size > 0;
  }
}

/** Which fields and questions sit behind the warning: those marked sensitive, or, when the project
 * has a content_warning and none is marked, all of them (as assay.domain.schema says). */
export function sensitiveNames(schema: Schema): { fields: Set<string>; questions: Set<string> } {
  const f = schema.fields.filter((x) => x.sensitive).map((x) => x.name);
  const q = schema.questions.filter((x) => x.sensitive).map((x) => x.name);
  const whole = schema.content_warning != null && !f.length && !q.length;
  return {
    fields: new Set(whole ? schema.fields.map((x) => x.name) : f),
    questions: new Set(whole ? schema.questions.map((x) => x.name) : q),
  };
}

const KEY = Symbol('content-warning');

/** A page that shows records sets the warning up for the components under it (while it starts:
 * the schema comes later, to ``Warning.load``); the clock listens to the page's visibility. */
export function provideWarning(projectId: string | number, context: 'work' | 'review' | 'dashboard'): Warning {
  const w = new Warning(new ExposureClock(projectId, context));
  setContext(KEY, w);
  $effect(() => w.clock.listen());
  return w;
}

export function useWarning(): Warning | undefined {
  return getContext<Warning | undefined>(KEY);
}


/** A duration for people: "45 s", "12 min", "1 h 05 min". */
export function duration(ms: number): string {
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

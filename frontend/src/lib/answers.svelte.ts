// The answers being given to one record: values per question, which came from a model's
// suggestion (and are still untouched), the active question and the focused trajectory step.
import type { QuestionSpec, Suggestion } from './types';
import { isEmpty, opts } from './util';

export const LIST_TYPES = new Set(['multi_label', 'span', 'bbox', 'polygon', 'keypoints', 'segment', 'step_set']);
// List questions where an empty list answers nothing: a required one needs at least one item.
export const NEED_SOME = new Set(['span', 'segment']);
export const SPATIAL = new Set(['bbox', 'polygon', 'keypoints']);

export class Answers {
  values = $state<Record<string, any>>({});
  suggested = $state<Record<string, { model?: string | null; score?: number | null }>>({});
  active = $state(0);
  step = $state(0);
  label = $state<Record<string, string>>({});
  version = $state(0);
  questions: QuestionSpec[];

  constructor(questions: QuestionSpec[]) {
    this.questions = questions;
  }

  reset(initial: Record<string, any>, suggestions: Suggestion[] = [], fromDraft = false) {
    const vals: Record<string, any> = {};
    const sug: Record<string, any> = {};
    if (!fromDraft) {
      for (const s of suggestions) {
        if (this.questions.some((q) => q.name === s.question) && !(s.question in vals)) {
          vals[s.question] = JSON.parse(JSON.stringify(s.value ?? null));
          sug[s.question] = { model: s.model, score: s.score };
        }
      }
    }
    for (const [k, v] of Object.entries(initial ?? {})) vals[k] = v;
    this.values = vals;
    this.suggested = sug;
    this.active = 0;
    this.step = 0;
    const lab: Record<string, string> = {};
    for (const q of this.questions) {
      const l = opts(q.labels);
      if (l.length) lab[q.name] = l[0].value;
    }
    this.label = lab;
  }

  set(name: string, v: any) {
    this.values[name] = v;
    if (name in this.suggested) delete this.suggested[name];
    this.version++;
  }

  get(name: string): any {
    return this.values[name];
  }

  answered(q: QuestionSpec): boolean {
    const v = this.values[q.name];
    if (v === undefined) return false;
    if (v === null) return q.type === 'step_pick';
    if (q.type === 'text') return typeof v === 'string' && v.trim() !== '';
    if (q.type === 'step_review') return !isEmpty(v);
    if (NEED_SOME.has(q.type)) return Array.isArray(v) && v.length > 0;
    return true;
  }

  /** The values to send: answered questions, list questions defaulting to []. */
  payload(): Record<string, any> {
    const out: Record<string, any> = {};
    for (const q of this.questions) {
      const v = this.values[q.name];
      if (v === undefined || (v === null && q.type !== 'step_pick')) {
        if (LIST_TYPES.has(q.type) && q.required !== false) out[q.name] = [];
        continue;
      }
      if (q.type === 'text' && typeof v === 'string' && v === '' && q.required === false) continue;
      if (q.type === 'step_review' && isEmpty(v) && q.required === false) continue;
      out[q.name] = $state.snapshot(v);
    }
    return out;
  }

  missing(): QuestionSpec[] {
    return this.questions.filter(
      (q) => q.required !== false && (!LIST_TYPES.has(q.type) || NEED_SOME.has(q.type)) && !this.answered(q),
    );
  }
}

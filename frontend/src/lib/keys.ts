// Keys shared by the workbench and review's correction: what a digit does to the active
// question, which question Shift+digit (strength) means, and where the focus goes when the
// active question changes.
import { tick } from 'svelte';
import type { Answers } from './answers.svelte';
import type { QuestionSpec, RecordData } from './types';
import { candidateId, inEditable, opts, ratingRange, verdicts } from './util';

export function answerDigit(q: QuestionSpec, n: number, shift: boolean, a: Answers, record: RecordData, advanceFrom: (q: QuestionSpec) => void) {
  switch (q.type) {
    case 'label': {
      const o = opts(q.options)[n - 1];
      if (o) {
        a.set(q.name, o.value);
        advanceFrom(q);
      }
      break;
    }
    case 'multi_label': {
      const o = opts(q.options)[n - 1];
      if (o) {
        const v: string[] = Array.isArray(a.get(q.name)) ? [...a.get(q.name)] : [];
        const i = v.indexOf(o.value);
        if (i >= 0) v.splice(i, 1);
        else v.push(o.value);
        a.set(q.name, v);
      }
      break;
    }
    case 'rating': {
      const [lo, hi] = ratingRange(q);
      const v = lo + n - 1;
      if (v <= hi) {
        a.set(q.name, v);
        advanceFrom(q);
      }
      break;
    }
    case 'preference': {
      const field = record.fields[q.field!] ?? [];
      const prev = a.get(q.name) ?? {};
      if (shift) {
        if (q.strength && n >= 1 && n <= 3 && prev.choice && prev.choice !== 'tie') a.set(q.name, { ...prev, strength: n });
        break;
      }
      if (n <= field.length) {
        const v: any = { choice: candidateId(field[n - 1], n - 1) };
        if (q.strength) v.strength = prev.strength ?? 2;
        a.set(q.name, v);
        advanceFrom(q); // Shift+1..3 still sets its strength from the next question
      }
      break;
    }
    case 'step_review': {
      const o = verdicts(q)[n - 1];
      if (o) {
        const v = { ...(a.get(q.name) ?? {}) };
        v[String(a.step)] = { ...(v[String(a.step)] ?? {}), verdict: o.value };
        a.set(q.name, v);
      }
      break;
    }
    case 'span':
    case 'bbox':
    case 'polygon':
    case 'keypoints':
    case 'segment': {
      const o = opts(q.labels)[n - 1];
      if (o) {
        a.label[q.name] = o.value;
        if (q.type === 'span') window.dispatchEvent(new CustomEvent('assay:span-label', { detail: { q: q.name, label: o.value } }));
      }
      break;
    }
  }
}

/** The question Shift+1..3 sets the strength of: the active one when it is a preference with
 * strength, else the nearest one before it that has a chosen candidate (choosing moves on). */
export function strengthTarget(questions: QuestionSpec[], active: number, a: Answers): QuestionSpec | undefined {
  const here = questions[active];
  if (here?.type === 'preference' && here.strength) return here;
  for (let i = active - 1; i >= 0; i--) {
    const q = questions[i];
    if (q.type !== 'preference' || !q.strength) continue;
    const v = a.get(q.name);
    return v?.choice && v.choice !== 'tie' ? q : undefined;
  }
  return undefined;
}

/** Focus follows the active question: its text or number box takes the focus (typing goes
 * there, not to the shortcuts); a box of another question gives it up (shortcuts work again). */
export async function focusActive(q: QuestionSpec | undefined): Promise<void> {
  await tick();
  const box = q ? (document.getElementById(`q-${q.name}-in`) as HTMLElement | null) : null;
  if (box) {
    if (document.activeElement !== box) box.focus();
    return;
  }
  const el = document.activeElement as HTMLElement | null;
  if (el && inEditable(el) && el.closest('.qcard')) el.blur();
}

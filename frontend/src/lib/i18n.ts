// UI languages (svelte-i18n): message catalogues in src/locales, English, Spanish and Arabic.
// The language is the user's choice (the selector in the top bar, kept in this browser), else
// the browser's; Arabic lays the page out right to left. Record content is never translated
// and takes its own direction (dir="auto").
import { addMessages, getLocaleFromNavigator, init, locale } from 'svelte-i18n';
import ar from '../locales/ar.json';
import en from '../locales/en.json';
import es from '../locales/es.json';

export { _ } from 'svelte-i18n';

export const LANGUAGES: Record<string, string> = { en: 'English', es: 'Español', ar: 'العربية' };
const RTL = new Set(['ar']);
const KEY = 'assay:lang';

addMessages('en', en);
addMessages('es', es);
addMessages('ar', ar);

function base(tag: string | null | undefined): string {
  const b = (tag ?? 'en').toLowerCase().split('-')[0];
  return b in LANGUAGES ? b : 'en';
}

export function setupI18n(): void {
  init({ fallbackLocale: 'en', initialLocale: base(localStorage.getItem(KEY) ?? getLocaleFromNavigator()) });
  locale.subscribe((l) => {
    const b = base(l);
    document.documentElement.lang = b;
    document.documentElement.dir = RTL.has(b) ? 'rtl' : 'ltr';
  });
}

export function chooseLanguage(tag: string): void {
  localStorage.setItem(KEY, base(tag));
  locale.set(base(tag));
}

export const currentLanguage = (l: string | null | undefined): string => base(l);

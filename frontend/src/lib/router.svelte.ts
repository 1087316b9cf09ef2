// A tiny hash router: #/login, #/, #/p/<id>/work, #/p/<id>/review, #/p/<id>/dashboard.

function parse(): string[] {
  const h = location.hash.replace(/^#\/?/, '');
  return h ? h.split('/').map(decodeURIComponent) : [];
}

class Router {
  parts = $state<string[]>(parse());
  constructor() {
    window.addEventListener('hashchange', () => (this.parts = parse()));
  }
  go(path: string) {
    if (location.hash !== '#' + path) location.hash = path;
    else this.parts = parse();
  }
}

export const router = new Router();

import { api, setUnauthorizedHandler } from './api';
import type { Me } from './types';
import { router } from './router.svelte';

const RANK: Record<string, number> = { annotator: 1, reviewer: 2, manager: 3, admin: 4 };

class Session {
  me = $state<Me | null>(null);
  loaded = $state(false);

  async load() {
    try {
      this.me = await api.get<Me>('/me');
    } catch {
      this.me = null;
    }
    this.loaded = true;
  }
  async login(name: string, password: string) {
    await api.post('/auth/login', { name, password });
    await this.load();
  }
  async logout() {
    try {
      await api.post('/auth/logout');
    } catch {
      /* the cookie may already be gone */
    }
    this.me = null;
    router.go('/login');
  }
  /** Whether my role is at least `role` (annotator < reviewer < manager < admin). */
  can(role: 'annotator' | 'reviewer' | 'manager' | 'admin'): boolean {
    return !!this.me && (RANK[this.me.role] ?? 0) >= RANK[role];
  }
}

export const session = new Session();
setUnauthorizedHandler(() => {
  session.me = null;
  router.go('/login');
});

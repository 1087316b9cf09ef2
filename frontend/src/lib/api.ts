// A small client for assay's HTTP API (/api/v1). Cookie session + CSRF header on writes;
// errors are problem+json and surface as ApiError.

export const BASE = '/api/v1';

export class ApiError extends Error {
  status: number;
  code?: string;
  field?: string;
  title: string;
  constructor(status: number, body: any) {
    const detail = body?.detail ?? body?.title ?? `HTTP ${status}`;
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.status = status;
    this.title = body?.title ?? `HTTP ${status}`;
    this.code = body?.code;
    this.field = body?.field;
  }
}

/** Thrown when the server could not be reached at all (offline, server down). */
export class NetworkError extends Error {}

export function csrfToken(): string {
  const m = document.cookie.match(/(?:^|;\s*)assay_csrf=([^;]*)/);
  return m ? decodeURIComponent(m[1]) : '';
}

export interface RequestOpts {
  body?: unknown;
  form?: FormData;
  signal?: AbortSignal;
  onUploadProgress?: (loaded: number, total: number) => void;
}

export async function request<T = unknown>(method: string, path: string, opts: RequestOpts = {}): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrfToken();
  let body: BodyInit | undefined;
  if (opts.form) body = opts.form;
  else if (opts.body !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(opts.body);
  }
  let res: Response;
  try {
    res = await fetch(BASE + path, { method, headers, body, credentials: 'same-origin', signal: opts.signal });
  } catch (e: any) {
    if (e?.name === 'AbortError') throw e;
    throw new NetworkError('The server cannot be reached');
  }
  if (res.status === 204) return null as T;
  const text = await res.text();
  let data: any = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = { detail: text };
    }
  }
  if (!res.ok) {
    if (res.status === 401 && !path.startsWith('/auth/')) onUnauthorized();
    throw new ApiError(res.status, data);
  }
  return data as T;
}

let unauthorizedHandler: () => void = () => {};
export function setUnauthorizedHandler(f: () => void) {
  unauthorizedHandler = f;
}
function onUnauthorized() {
  unauthorizedHandler();
}

/** Upload with progress (fetch has no upload progress): XMLHttpRequest. */
export function upload<T = unknown>(path: string, form: FormData, onProgress: (p: number) => void): Promise<T> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', BASE + path);
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onerror = () => reject(new NetworkError('The server cannot be reached'));
    xhr.onload = () => {
      let data: any = null;
      try {
        data = xhr.responseText ? JSON.parse(xhr.responseText) : null;
      } catch {
        data = { detail: xhr.responseText };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(data as T);
      else reject(new ApiError(xhr.status, data));
    };
    xhr.send(form);
  });
}

export const api = {
  get: <T = unknown>(p: string, o?: RequestOpts) => request<T>('GET', p, o),
  post: <T = unknown>(p: string, body?: unknown, o?: RequestOpts) => request<T>('POST', p, { ...o, body }),
  put: <T = unknown>(p: string, body?: unknown, o?: RequestOpts) => request<T>('PUT', p, { ...o, body }),
  del: <T = unknown>(p: string, o?: RequestOpts) => request<T>('DELETE', p, o),
};

export function errorText(e: unknown): string {
  if (e instanceof ApiError) return e.field ? `${e.message} (${e.field})` : e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

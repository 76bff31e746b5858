// The API client: every call carries the bearer token from session storage and the chosen namespace.
// Errors come back as ApiError with the API's stable code (E_NOT_FOUND, E_UNAUTHORIZED...).

const TOKEN_KEY = "p2n.token";
const NAMESPACE_KEY = "p2n.namespace";
export const PREFIX = "/api/v1";

export class ApiError extends Error {
  constructor(status, code, message, details) {
    super(message);
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

const listeners = new Set();

export const session = {
  get token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
  },
  get namespace() {
    return sessionStorage.getItem(NAMESPACE_KEY) || "";
  },
  save(token, namespace) {
    sessionStorage.setItem(TOKEN_KEY, token);
    if (namespace) sessionStorage.setItem(NAMESPACE_KEY, namespace);
    else sessionStorage.removeItem(NAMESPACE_KEY);
  },
  clear() {
    sessionStorage.removeItem(TOKEN_KEY);
  },
  // Called with the ApiError when the server rejects the token (401), so the app can ask again.
  onUnauthorized(listener) {
    listeners.add(listener);
  },
};

export function url(path, params = {}) {
  const target = new URL(PREFIX + path, window.location.origin);
  const namespace = session.namespace;
  if (namespace) target.searchParams.set("namespace", namespace);
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") target.searchParams.set(key, value);
  }
  return target.toString();
}

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  return headers;
}

async function errorOf(response) {
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  const error = body && body.error;
  return new ApiError(
    response.status,
    (error && error.code) || `HTTP_${response.status}`,
    (error && error.message) || response.statusText || "request failed",
    error && error.details,
  );
}

export async function request(method, path, { json, form, params, signal, raw } = {}) {
  const headers = authHeaders({ Accept: raw ? "*/*" : "application/json" });
  let body;
  if (json !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form;
  }
  const response = await fetch(url(path, params), { method, headers, body, signal });
  if (!response.ok) {
    const error = await errorOf(response);
    if (response.status === 401) listeners.forEach((listener) => listener(error));
    throw error;
  }
  if (raw) return response;
  if (response.status === 204) return null;
  return response.json();
}

export const api = {
  get: (path, options) => request("GET", path, options),
  post: (path, json, options = {}) => request("POST", path, { ...options, json }),
  postForm: (path, form, options = {}) => request("POST", path, { ...options, form }),
  delete: (path, options) => request("DELETE", path, options),
  blob: async (path, options) => (await request("GET", path, { ...options, raw: true })).blob(),
};

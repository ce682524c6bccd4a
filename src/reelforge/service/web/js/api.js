// The typed API under /api/ (docs/APP.md). Every state-changing call sends the session's
// CSRF token (from GET /api/session) as X-CSRF-Token; errors arrive as the envelope
// {"error": {"message", "param", "code"}} and are thrown as ApiError so forms can show
// the message beside the field the server named.

let csrfToken = null;

export function setCsrf(token) {
  csrfToken = token;
}

export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the request failed (HTTP ${status})`);
    this.status = status;
    this.param = error.param || null;
    this.code = error.code || null;
  }
}

export async function api(method, path, body, { keepalive = false } = {}) {
  const headers = { accept: "application/json" };
  if (method !== "GET" && csrfToken) headers["x-csrf-token"] = csrfToken;
  let payload;
  if (body instanceof FormData) {
    payload = body; // the browser writes the multipart boundary
  } else if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let response;
  try {
    // Paths are relative to /api; URLs the server handed out (`video_url`, ...) are whole.
    const url = path.startsWith("/api/") ? path : `/api${path}`;
    response = await fetch(url, {
      method,
      headers,
      body: payload,
      credentials: "same-origin",
      keepalive,
    });
  } catch {
    throw new ApiError(0, { error: { message: "the server cannot be reached; try again" } });
  }
  if (response.status === 204) return null;
  const data = await response.json().catch(() => null);
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body);
export const put = (path, body) => api("PUT", path, body);
export const patch = (path, body) => api("PATCH", path, body);
export const del = (path, body) => api("DELETE", path, body);
export const q = encodeURIComponent;

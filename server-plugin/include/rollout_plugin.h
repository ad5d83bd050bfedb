/* rollout_plugin.h - the C ABI of the Safe Agent Rollout server plugin.
 *
 * An RMM server written in any language mounts the rollout API and pages under a path prefix of
 * its own and forwards requests here, together with the identity it has already authenticated.
 * The plugin owns its database and keys (from the YAML config). All strings are UTF-8 and
 * NUL-terminated unless a length is given. Memory returned by the plugin is freed only with the
 * matching rollout_*_free function. rollout_plugin_handle() may be called from several threads at
 * once on the same plugin; create and destroy must not race with anything.
 */
#ifndef ROLLOUT_PLUGIN_H
#define ROLLOUT_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* 2 added rollout_plugin_admit(); 3 added rollout_plugin_handle_streamed() and rollout_body_*.
 * Every earlier function is unchanged. */
#define ROLLOUT_PLUGIN_ABI_VERSION 3

#if defined(_WIN32)
#define ROLLOUT_PLUGIN_API __declspec(dllexport)
#else
#define ROLLOUT_PLUGIN_API __attribute__((visibility("default")))
#endif

typedef struct rollout_plugin rollout_plugin;
/* A response body the plugin produces piece by piece (ABI 3; rollout_plugin_handle_streamed). */
typedef struct rollout_body rollout_body;

typedef struct rollout_header {
  const char* name;
  const char* value;
} rollout_header;

typedef struct rollout_request {
  const char* method; /* "GET", "POST", ... */
  const char* target; /* path (prefix already stripped) and query: "/api/agents?x=1" */
  const rollout_header* headers;
  size_t header_count;
  const char* body; /* may be NULL when body_len is 0 */
  size_t body_len;
  const char* remote_addr; /* may be NULL */
  int tls;                 /* non-zero when the client connection was TLS */
  /* Identity authenticated by the host. NULL user: the plugin applies its own authentication
   * (agent bearer tokens, API tokens, its own login). Otherwise role is "viewer", "operator" or
   * "admin" and the request is treated as coming from that user. */
  const char* user;
  const char* role;
} rollout_request;

typedef struct rollout_response {
  int status;
  rollout_header* headers;
  size_t header_count;
  char* body; /* body_len bytes, not NUL-terminated */
  size_t body_len;
  /* When file_path is not NULL the body is file_length bytes of that file from file_offset
   * (artifact downloads): the host streams it instead of body. */
  char* file_path;
  uint64_t file_offset;
  uint64_t file_length;
} rollout_response;

/* Creates a plugin from a YAML config file. On failure returns NULL and, when error is not NULL,
 * sets *error to a message (free it with rollout_string_free). */
ROLLOUT_PLUGIN_API rollout_plugin* rollout_plugin_create(const char* config_path, char** error);

/* Handles one request. Always fills *response (an error status with a JSON body on failure) and
 * returns 0; returns -1 only when an argument is NULL. *response is overwritten, never read: it
 * may be uninitialised, and a previous response in it must be freed first. */
ROLLOUT_PLUGIN_API int rollout_plugin_handle(rollout_plugin* plugin, const rollout_request* request,
                                             rollout_response* response);

/* As rollout_plugin_handle() (ABI 3), and for a response whose body the plugin streams from
 * somewhere other than a file (artifacts kept in the database: artifact_store: database) sets
 * *body to a stream of exactly rollout_body_length() bytes that the host sends with that
 * Content-Length, reading it with rollout_body_read() until it returns 0, then frees it with
 * rollout_body_free(); response->body is then empty. Otherwise *body is NULL. A host that calls
 * rollout_plugin_handle() instead gets such a body in response->body, read whole into memory.
 * Returns -1 when an argument is NULL. */
ROLLOUT_PLUGIN_API int rollout_plugin_handle_streamed(rollout_plugin* plugin,
                                                      const rollout_request* request,
                                                      rollout_response* response,
                                                      rollout_body** body);
/* The total bytes of the body. */
ROLLOUT_PLUGIN_API uint64_t rollout_body_length(const rollout_body* body);
/* Reads the next at most cap bytes into buf (may block on the database: call it off the host's
 * I/O threads). Returns the number read (> 0), 0 once all rollout_body_length() bytes were read,
 * or -1 on a failure: the host must then close the connection (the client sees a short body,
 * never wrong bytes). One thread at a time per body. */
ROLLOUT_PLUGIN_API int64_t rollout_body_read(rollout_body* body, char* buf, size_t cap);
ROLLOUT_PLUGIN_API void rollout_body_free(rollout_body* body);

/* The largest request body the route behind method and target (as in rollout_request) accepts:
 * artifact uploads take more than JSON calls. A host that asks before reading a body can refuse a
 * larger Content-Length with 413 at once instead of buffering it; rollout_plugin_handle() refuses
 * it either way. Returns 0 when an argument is NULL. */
ROLLOUT_PLUGIN_API uint64_t rollout_plugin_body_limit(rollout_plugin* plugin, const char* method,
                                                      const char* target);
/* The header phase (ABI 2): call it once a request's headers are in, before reading its body,
 * with request->body ignored. The plugin authenticates the caller as rollout_plugin_handle()
 * would (request->user/role, or its own: agent bearer token, API token, session cookie plus
 * X-CSRF-Token), checks the role the route needs and a declared Content-Length against the
 * route's cap. Returns 0 when the host may read the body, at most *body_limit bytes, and then
 * call rollout_plugin_handle(); *refusal is left empty. Returns 1 when the host must send
 * *refusal (401, 403, 413; free it with rollout_response_free) at once and close the connection
 * without reading the body (drain briefly first, so the client sees the answer, not a reset).
 * Returns -1 when an argument is NULL. rollout_plugin_handle() checks everything again. */
ROLLOUT_PLUGIN_API int rollout_plugin_admit(rollout_plugin* plugin, const rollout_request* request,
                                            rollout_response* refusal, uint64_t* body_limit);
ROLLOUT_PLUGIN_API void rollout_response_free(rollout_response* response);
ROLLOUT_PLUGIN_API void rollout_string_free(char* s);
ROLLOUT_PLUGIN_API void rollout_plugin_destroy(rollout_plugin* plugin);

/* The plugin's version, e.g. "0.1.0", and ROLLOUT_PLUGIN_ABI_VERSION it was built with. */
ROLLOUT_PLUGIN_API const char* rollout_plugin_version(void);
ROLLOUT_PLUGIN_API int rollout_plugin_abi_version(void);

#ifdef __cplusplus
}
#endif

#endif /* ROLLOUT_PLUGIN_H */

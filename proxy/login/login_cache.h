/* The token cache of `authgate login`: one JSON entry (oauth.h) per (endpoint, client,
 * scopes, audience) key in a directory only the user may write (default
 * ~/.kube/cache/authgate), with a lock file per key that the caller holds across the
 * whole acquisition, so concurrent kubectl invocations start one sign-in between them.
 *
 * Safety rules: the directory is created 0700; an existing directory or entry that is not
 * owned by the user or that group/others may write is refused (AG_E_CONFIG), because
 * whoever can write it can hand kubectl their token or read ours; entries are written
 * 0600 to a temporary file and renamed into place; nothing follows a symlink for a file.
 *
 * Lifetime: a cache is opened and closed by the command. */
#ifndef AG_LOGIN_CACHE_H
#define AG_LOGIN_CACHE_H

#include "base/arena.h"
#include "base/err.h"
#include "base/str.h"
#include "login/oauth.h"

typedef struct ag_login_cache ag_login_cache_t;

/* Opens (creating, 0700, with missing parents) <dir> for the key <key> (any bytes; hashed
 * into the file name). <why> gets a message for the person on failure. */
ag_err ag_login_cache_open(const char *dir, ag_str_t key, ag_login_cache_t **out, char *why,
                           size_t why_n);
void ag_login_cache_close(ag_login_cache_t *c); /* releases the lock; NULL is ignored */

/* Takes the key's exclusive lock, waiting for another holder (after calling <waiting>
 * once, if it must wait). */
ag_err ag_login_cache_lock(ag_login_cache_t *c, void (*waiting)(void));

/* Reads the entry: AG_E_NOT_FOUND when there is none, AG_E_CONFIG when it is unsafe
 * (owner, mode, not a regular file), AG_E_PARSE when malformed. */
ag_err ag_login_cache_read(ag_login_cache_t *c, ag_arena_t *arena, ag_oauth_tokens_t *out,
                           char *why, size_t why_n);
/* Replaces the entry atomically. */
ag_err ag_login_cache_write(ag_login_cache_t *c, const ag_oauth_tokens_t *t, char *why,
                            size_t why_n);
/* Removes the entry; 0 when there was none. */
ag_err ag_login_cache_remove(ag_login_cache_t *c);
/* Removes every entry in <dir> (the "<hex>.json" files it writes; lock files stay);
 * *n gets how many went. */
ag_err ag_login_cache_remove_all(const char *dir, int *n, char *why, size_t why_n);

/* The default directory: $HOME/.kube/cache/authgate into <out>. */
ag_err ag_login_cache_default_dir(char *out, size_t n);

#endif

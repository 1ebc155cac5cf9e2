/* One list of operation errors for all of authgate. Operations return ag_err: 0 on
 * success or a negative AG_E_* code. Authentication and authorization outcomes are NOT
 * errors: they have their own result enums with reasons (authn.h, rbac.h). */
#ifndef AG_ERR_H
#define AG_ERR_H

typedef int ag_err;

#define AG_ERRORS(X)                                                                               \
    X(NOMEM, "out of memory")                                                                      \
    X(INVAL, "invalid argument")                                                                   \
    X(PARSE, "malformed input")                                                                    \
    X(TOO_BIG, "input exceeds a configured limit")                                                 \
    X(TOO_DEEP, "input nests too deeply")                                                          \
    X(DUPLICATE, "duplicate key")                                                                  \
    X(NOT_FOUND, "not found")                                                                      \
    X(IO, "I/O error")                                                                             \
    X(CRYPTO, "cryptographic operation failed")                                                    \
    X(UNSUPPORTED, "unsupported")                                                                  \
    X(CONFIG, "invalid configuration")                                                             \
    X(TIMEOUT, "timed out")                                                                        \
    X(UPSTREAM, "upstream error")                                                                  \
    X(CANCELED, "operation canceled")                                                              \
    X(IN_USE, "address already in use")

enum {
    AG_OK = 0,
#define AG_ERR_ENUM(name, msg) AG_E_##name,
    AG_E__BASE = -100,
    AG_ERRORS(AG_ERR_ENUM)
#undef AG_ERR_ENUM
};

/* Static message for <err>; never NULL. */
const char *ag_err_str(ag_err err);
/* Short symbolic name ("PARSE") for logs and metric labels. */
const char *ag_err_name(ag_err err);

#endif

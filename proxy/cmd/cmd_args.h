/* Command-line option reading shared by the authgate sub-commands (cmd_check.c,
 * cmd_check_azure.c). Process lifetime: returned values point into argv (borrowed); nothing
 * is allocated. Never prints: the caller words the usage error. */
#ifndef AG_CMD_ARGS_H
#define AG_CMD_ARGS_H

#include <stdbool.h>

/* The value of option <name> at argv[*i], written "--name V" (then *i moves to V) or
 * "--name=V"; NULL when argv[*i] is another option. When "--name" is last, sets *missing
 * and returns NULL. */
const char *ag_cmd_opt_value(const char *name, int argc, char **argv, int *i, bool *missing);

#endif

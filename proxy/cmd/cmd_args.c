/* Command-line option reading for the sub-commands (cmd_args.h). Reads argv only; never
 * prints and never allocates. */
#include "cmd/cmd_args.h"

#include <string.h>

const char *ag_cmd_opt_value(const char *name, int argc, char **argv, int *i, bool *missing)
{
    size_t n = strlen(name);
    if (strncmp(argv[*i], name, n) != 0)
        return NULL;
    if (argv[*i][n] == '=')
        return argv[*i] + n + 1;
    if (argv[*i][n] != '\0')
        return NULL;
    if (*i + 1 >= argc) {
        *missing = true;
        return NULL;
    }
    return argv[++*i];
}

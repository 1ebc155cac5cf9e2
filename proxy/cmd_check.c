/* Placeholder until the RBAC CLI lands: replaced by check/who-can. */
#include <stdio.h>

#include "cmd.h"

int ag_cmd_check(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "authgate check: not built yet\n");
    return 2;
}

int ag_cmd_who_can(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "authgate who-can: not built yet\n");
    return 2;
}

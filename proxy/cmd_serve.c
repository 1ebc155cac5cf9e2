/* Placeholder until the proxy lands: replaced by the serve/demo implementation. */
#include <stdio.h>

#include "cmd.h"

int ag_cmd_serve(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "authgate serve: not built yet\n");
    return 2;
}

int ag_cmd_demo(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "authgate demo: not built yet\n");
    return 2;
}

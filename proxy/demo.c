/* `authgate demo`: the embedded default. No files: a fresh self-signed certificate, a
 * built-in demo upstream on loopback (answers like a tiny API server and echoes the
 * identity headers it received) and the gateway in front of it. Later work extends it
 * here (issuer, policy, kubeconfig). */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

int ag_cmd_demo(int argc, char **argv)
{
    (void)argc, (void)argv;
    fprintf(stderr, "authgate demo: not built yet\n");
    return 2;
}

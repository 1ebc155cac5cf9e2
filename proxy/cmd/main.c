/* authgate entry point: dispatches the sub-command (cmd.h). */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "runtime/version.h"

static const struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} commands[] = {
    {"serve", ag_cmd_serve, "run the gateway: authgate serve --config FILE"},
    {"demo", ag_cmd_demo, "run the embedded demo setup on loopback (no files needed)"},
    {"check", ag_cmd_check, "can a subject do this? authgate check --config F --as U VERB RES"},
    {"who-can", ag_cmd_who_can, "who may? authgate who-can --config F VERB RESOURCE [-n NS]"},
    {"login", ag_cmd_login, "sign in for kubectl (exec credential plugin; device code, cache)"},
    {"kubeconfig", ag_cmd_kubeconfig, "write a kubeconfig whose user signs in by authgate login"},
    {"webhook-kubeconfig", ag_cmd_webhook_kubeconfig,
     "kubeconfig files for the API server to call this gateway's webhooks"},
};

static void usage(FILE *f)
{
    fprintf(f, "usage: authgate COMMAND [ARGS]\n       authgate --version\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-18s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n  %-18s %s\n  %-18s %s\n", "--version",
            "the version, commit and library versions (built, running)", "-h, --help", "this help");
    fprintf(f, ""
               "\nEach command has --help.\n\nexamples:\n"
               "  authgate serve --config gateway.json\n"
               "  authgate check --policy rbac.yaml --as bob get pods -n dev --explain\n"
               "  authgate who-can --policy rbac.yaml delete pods -n dev\n"
               "  authgate kubeconfig --server https://gateway:8443 --certificate-authority ca.crt"
               " \\\n      --issuer-url https://idp.example.com --client-id kubectl\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        ag_version_print(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "authgate: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return 2;
}

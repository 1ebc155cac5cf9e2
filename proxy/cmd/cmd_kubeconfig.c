/* `authgate kubeconfig`: writes (or merges into) a kubeconfig with the gateway as the
 * cluster and `authgate login` as the user's exec credential plugin, like
 * `az aks get-credentials` followed by `kubelogin convert-kubeconfig`. The sign-in
 * options are checked by authgate login's own parser and passed through as its args.
 * The file is rewritten atomically (temporary file, 0600, rename); core/login/kubeconfig.c
 * does the merge. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <mbedtls/base64.h>

#include "cmd/cmd.h"
#include "cmd/cmd_args.h"
#include "files.h"
#include "login/kubeconfig.h"

#define MAX_ARGS 64
#define CA_MAX (256u * 1024)

static const char kubeconfig_help[] =
    "usage: authgate kubeconfig --server URL [--certificate-authority FILE] [options]\n"
    "                           SIGN-IN OPTIONS...\n"
    "\n"
    "Writes a kubeconfig whose cluster is the gateway and whose user runs `authgate login`\n"
    "with the SIGN-IN OPTIONS (see authgate login --help) as a kubectl exec credential\n"
    "plugin (client.authentication.k8s.io/v1, interactiveMode IfAvailable). An existing\n"
    "kubeconfig (YAML or JSON) is merged: the cluster, user and context of this --name are\n"
    "replaced, everything else is kept, the current context becomes this one. The file is\n"
    "written as JSON (kubectl reads it as it reads YAML; comments are not kept), mode 0600.\n"
    "\n"
    "options:\n"
    "  --server URL                 the gateway's URL (required)\n"
    "  --certificate-authority FILE PEM CA of the gateway's TLS, embedded in the file\n"
    "  --tls-server-name NAME       server name to verify, when not the URL's host\n"
    "  --name NAME                  cluster, user and context name (default authgate)\n"
    "  --namespace NS               the context's namespace\n"
    "  --kubeconfig FILE            file to write (default: the first of $KUBECONFIG, else\n"
    "                               ~/.kube/config); - prints to stdout\n"
    "  --command PATH               the plugin command (default: this authgate's path)\n"
    "Relative --token-cache-dir and --idp-certificate-authority paths are made absolute.\n"
    "\n"
    "examples:\n"
    "  authgate kubeconfig --server https://gateway.example.com:8443 \\\n"
    "      --certificate-authority ca.crt --issuer-url https://idp.example.com \\\n"
    "      --client-id kubectl --audience https://gateway.example.com\n"
    "  authgate kubeconfig --server https://gateway.example.com:8443 --name aks-gw \\\n"
    "      --tenant-id contoso.onmicrosoft.com --kubeconfig ~/.kube/aks-gw.json\n"
    "  kubectl get pods     # signs in on first use, then uses the cached token\n";

typedef struct {
    ag_kubeconfig_entry_t e;
    const char *ca_path, *file;
    const char *args[MAX_ARGS + 1];
    int nargs;
    char self[PATH_MAX], file_buf[PATH_MAX];
    char paths[4][PATH_MAX]; /* login path options made absolute */
    int npaths;
} kc_args_t;

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "authgate kubeconfig: %s%s%s (authgate kubeconfig --help)\n", what,
            arg ? " " : "", arg ? arg : "");
    return 2;
}

/* One of our own options at argv[*i]: 1 taken, 0 not ours, -1 value missing. */
static int own_option(kc_args_t *a, int argc, char **argv, int *i)
{
    static const struct {
        const char *name;
        size_t off;
    } opts[] = {
        {"--server", offsetof(kc_args_t, e.server)},
        {"--certificate-authority", offsetof(kc_args_t, ca_path)},
        {"--tls-server-name", offsetof(kc_args_t, e.tls_server_name)},
        {"--name", offsetof(kc_args_t, e.name)},
        {"--namespace", offsetof(kc_args_t, e.namespace_)},
        {"--kubeconfig", offsetof(kc_args_t, file)},
        {"--command", offsetof(kc_args_t, e.command)},
    };
    bool missing = false;
    for (size_t k = 0; k < sizeof opts / sizeof opts[0]; k++) {
        const char *v = ag_cmd_opt_value(opts[k].name, argc, argv, i, &missing);
        if (missing)
            return -1;
        if (v) {
            *(const char **)((char *)a + opts[k].off) = v;
            return 1;
        }
    }
    return 0;
}

/* Sign-in flags of authgate login that take no value. */
static bool login_flag(const char *arg)
{
    return strcmp(arg, "--legacy") == 0 || strcmp(arg, "--use-id-token") == 0 ||
           strcmp(arg, "--logout") == 0;
}

/* Login options naming files: kubectl runs the plugin from whatever directory it is in. */
static bool path_option(const char *arg)
{
    return strcmp(arg, "--token-cache-dir") == 0 || strcmp(arg, "--cache-dir") == 0 ||
           strcmp(arg, "--idp-certificate-authority") == 0;
}

/* <p> against the current directory when relative (copied into <a>; <p> when it cannot). */
static const char *absolute(kc_args_t *a, const char *p)
{
    char cwd[PATH_MAX];
    if (p[0] == '/' || a->npaths >= 4 || !getcwd(cwd, sizeof cwd) ||
        snprintf(a->paths[a->npaths], PATH_MAX, "%s/%s", cwd, p) >= PATH_MAX)
        return p;
    return a->paths[a->npaths++];
}

static int parse_args(kc_args_t *a, int argc, char **argv, bool *help)
{
    a->args[a->nargs++] = "login";
    for (int i = 1; i < argc; i++) {
        int own;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            *help = true;
            return 0;
        }
        if ((own = own_option(a, argc, argv, &i)) != 0) {
            if (own < 0)
                return usage_error("missing value for", argv[i]);
            continue;
        }
        bool value = strncmp(argv[i], "-", 1) == 0 && !strchr(argv[i], '=') &&
                     !login_flag(argv[i]) && i + 1 < argc;
        if (a->nargs + 2 > MAX_ARGS)
            return usage_error("too many arguments", NULL);
        a->args[a->nargs++] = argv[i];
        if (value) {
            i++;
            a->args[a->nargs++] = path_option(argv[i - 1]) ? absolute(a, argv[i]) : argv[i];
        }
    }
    if (!a->e.server)
        return usage_error("--server is required", NULL);
    if (strncmp(a->e.server, "https://", 8) != 0)
        return usage_error("--server must be an https:// URL (the token travels to it)", NULL);
    return ag_cmd_login_check_args(a->nargs, (char **)a->args);
}

/* Defaults: name authgate, this binary as the command, the kubeconfig kubectl reads. */
static int defaults(kc_args_t *a)
{
    const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
    if (!a->e.name)
        a->e.name = "authgate";
    if (!a->e.command) {
        ssize_t n = readlink("/proc/self/exe", a->self, sizeof a->self - 1);
        if (n <= 0)
            return usage_error("cannot find this program's path: name --command", NULL);
        a->self[n] = '\0';
        a->e.command = a->self;
    }
    if (!a->file && env && *env) {
        size_t n = strcspn(env, ":");
        snprintf(a->file_buf, sizeof a->file_buf, "%.*s", (int)n, env);
        a->file = a->file_buf;
    } else if (!a->file) {
        if (!home || !*home)
            return usage_error("HOME is not set: name --kubeconfig", NULL);
        snprintf(a->file_buf, sizeof a->file_buf, "%s/.kube/config", home);
        a->file = a->file_buf;
    }
    return 0;
}

/* certificate-authority-data: the PEM file, base64 (into <out>). */
static int embed_ca(const char *path, ag_buf_t *out)
{
    ag_buf_t pem = AG_BUF_INIT(CA_MAX);
    size_t n = 0;
    int rc = 1;
    if (ag_buf_read_file(&pem, path) != 0 ||
        !strstr(ag_buf_str(&pem).p, "-----BEGIN CERTIFICATE")) {
        fprintf(stderr, "authgate kubeconfig: %s is not a readable PEM certificate file\n", path);
        goto out;
    }
    mbedtls_base64_encode(NULL, 0, &n, (const unsigned char *)pem.p, pem.n);
    if (ag_buf_reserve(out, n) != 0 ||
        mbedtls_base64_encode((unsigned char *)out->p, out->cap, &n, (const unsigned char *)pem.p,
                              pem.n) != 0)
        goto out;
    out->n = n;
    rc = 0;
out:
    ag_buf_dispose(&pem);
    return rc;
}

/* <path>'s directory created 0700 when missing (~/.kube), then temp + rename. */
static int write_file(const char *path, ag_str_t text)
{
    char tmp[PATH_MAX + 32], dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash && slash != dir) {
        *slash = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST)
            return -1;
    }
    snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    bool ok =
        fchmod(fd, 0600) == 0 && write(fd, text.p, text.n) == (ssize_t)text.n && fsync(fd) == 0;
    ok = close(fd) == 0 && ok && rename(tmp, path) == 0;
    if (!ok)
        unlink(tmp);
    return ok ? 0 : -1;
}

static int merge_and_write(kc_args_t *a)
{
    ag_buf_t old = AG_BUF_INIT(AG_KUBECONFIG_MAX_BYTES),
             out = AG_BUF_INIT(2 * AG_KUBECONFIG_MAX_BYTES);
    bool to_stdout = strcmp(a->file, "-") == 0;
    ag_json_error_t je;
    int rc = 1;
    if (!to_stdout && access(a->file, F_OK) == 0 && ag_buf_read_file(&old, a->file) != 0) {
        fprintf(stderr, "authgate kubeconfig: cannot read %s\n", a->file);
        goto out;
    }
    if (ag_kubeconfig_merge(ag_buf_str(&old), &a->e, &out, &je) != 0) {
        fprintf(stderr,
                "authgate kubeconfig: %s:%d:%d: %s; write to another file with "
                "--kubeconfig and use KUBECONFIG=%s:OTHER\n",
                a->file, je.line, je.col,
                je.msg ? je.msg : "not a kubeconfig kubectl and authgate both read", a->file);
        goto out;
    }
    if (to_stdout ? fwrite(out.p, 1, out.n, stdout) != out.n
                  : write_file(a->file, ag_buf_str(&out)) != 0) {
        fprintf(stderr, "authgate kubeconfig: cannot write %s: %s\n", a->file, strerror(errno));
        goto out;
    }
    if (!to_stdout)
        fprintf(stderr, "authgate kubeconfig: wrote context \"%s\" to %s (current context)\n",
                a->e.name, a->file);
    rc = 0;
out:
    ag_buf_dispose(&old);
    ag_buf_dispose(&out);
    return rc;
}

int ag_cmd_kubeconfig(int argc, char **argv)
{
    kc_args_t a = {0};
    ag_buf_t ca = AG_BUF_INIT(2 * CA_MAX);
    bool help = false;
    int rc = parse_args(&a, argc, argv, &help);
    if (help) {
        fputs(kubeconfig_help, stdout);
        return 0;
    }
    if (rc || (rc = defaults(&a)) != 0)
        return rc;
    a.e.args = a.args;
    if (a.ca_path && (rc = embed_ca(a.ca_path, &ca)) != 0)
        goto out;
    a.e.ca_data = a.ca_path ? ca.p : NULL;
    rc = merge_and_write(&a);
out:
    ag_buf_dispose(&ca);
    return rc;
}

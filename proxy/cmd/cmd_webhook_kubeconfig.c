/* `authgate webhook-kubeconfig`: writes the two kubeconfig files the API server reads
 * with --authentication-token-webhook-config-file and --authorization-webhook-config-file
 * to call this gateway's TokenReview and SubjectAccessReview webhooks (as Guard's
 * `guard get webhook-config`). In such a file "clusters" is the remote service (this
 * gateway: server URL and the CA of its serving certificate) and "users" is the API
 * server's own client certificate. Reads files only; never connects anywhere. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <mbedtls/base64.h>
#include <mbedtls/oid.h>
#include <mbedtls/x509_crt.h>

#include "base/buf.h"
#include "cmd/cmd.h"
#include "cmd/cmd_args.h"
#include "config.h"
#include "files.h"
#include "runtime/version.h"

#define TR_PATH "/apis/authentication.k8s.io/v1/tokenreviews"
#define SAR_PATH "/apis/authorization.k8s.io/v1/subjectaccessreviews"
#define FILE_MAX (1u << 20) /* a PEM certificate or key; embedded files are small */

static const char help[] =
    "usage: authgate webhook-kubeconfig [--config FILE] [--server URL] --client-cert FILE\n"
    "           --client-key FILE [--ca FILE] [--embed-certs] [--output-dir DIR]\n"
    "           [--webhook authentication|authorization]\n"
    "\n"
    "Writes the kubeconfig files kube-apiserver's --authentication-token-webhook-config-file\n"
    "and --authorization-webhook-config-file need to call this gateway's TokenReview and\n"
    "SubjectAccessReview webhooks. Without --output-dir both go to stdout, each preceded by\n"
    "a comment naming its flag (or only the one --webhook names).\n"
    "\n"
    "  --config FILE        the gateway configuration: --server defaults to\n"
    "                       https://<webhooks.address> (else https://<listen.address>), and\n"
    "                       the client certificate is checked as the webhooks listener\n"
    "                       would: against webhooks.tls.client_ca and webhooks.callers\n"
    "  --server URL         https://HOST[:PORT] the API server reaches the gateway at (the\n"
    "                       webhook paths are appended)\n"
    "  --ca FILE            CA bundle of the gateway's serving certificate (default: the\n"
    "                       API server's system roots)\n"
    "  --client-cert FILE   the API server's client certificate (its CN must be in\n"
    "                       webhooks.callers) and its key\n"
    "  --client-key FILE\n"
    "  --embed-certs        put the files' contents in the kubeconfig (*-data) instead of\n"
    "                       their absolute paths\n"
    "  --output-dir DIR     write DIR/authentication-webhook.kubeconfig and\n"
    "                       DIR/authorization-webhook.kubeconfig (mode 0600) and print the\n"
    "                       kube-apiserver flags that use them\n"
    "  --webhook KIND       print only this one: authentication or authorization\n"
    "  -h, --help           this help\n"
    "\n"
    "examples:\n"
    "  authgate webhook-kubeconfig --config /etc/authgate/gateway.json \\\n"
    "      --server https://authgate.example.com:8444 --ca ca.crt \\\n"
    "      --client-cert apiserver-webhook.crt --client-key apiserver-webhook.key \\\n"
    "      --output-dir /etc/kubernetes/webhooks\n"
    "  authgate webhook-kubeconfig --server https://10.0.0.5:8444 --client-cert c.crt \\\n"
    "      --client-key c.key --embed-certs --webhook authorization > authz.kubeconfig\n";

typedef struct {
    const char *config, *server, *ca, *cert, *key, *out_dir, *webhook;
    bool embed;
    char server_buf[300];
} wk_args_t;

/* Fills <a> from argv: 0, 1 for --help, 2 for a usage error (reported). */
static int parse_args(int argc, char **argv, wk_args_t *a)
{
    static const char *const names[] = {"--config",     "--server",     "--ca",     "--client-cert",
                                        "--client-key", "--output-dir", "--webhook"};
    const char **slots[] = {&a->config, &a->server,  &a->ca,     &a->cert,
                            &a->key,    &a->out_dir, &a->webhook};
    for (int i = 1; i < argc; i++) {
        bool missing = false, matched = false;
        for (size_t k = 0; k < sizeof names / sizeof names[0] && !matched; k++) {
            const char *v = ag_cmd_opt_value(names[k], argc, argv, &i, &missing);
            if (v)
                *slots[k] = v;
            matched = v || missing;
        }
        if (missing) {
            fprintf(stderr, "authgate webhook-kubeconfig: %s needs a value\n", argv[i]);
            return 2;
        }
        if (matched)
            continue;
        if (strcmp(argv[i], "--embed-certs") == 0)
            a->embed = true;
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
        else {
            fprintf(stderr, "authgate webhook-kubeconfig: unexpected argument \"%s\"\n", argv[i]);
            return 2;
        }
    }
    return 0;
}

/* The CN of <crt> into <cn> ("" when it has none). */
static void cert_cn(const mbedtls_x509_crt *crt, char *cn, size_t cap)
{
    cn[0] = '\0';
    for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next)
        if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0 && n->val.len < cap) {
            memcpy(cn, n->val.p, n->val.len);
            cn[n->val.len] = '\0';
        }
}

/* Would the webhooks listener <wh> of <config> accept the client certificate in <path>?
 * It must verify against webhooks.tls.client_ca and its CN be among webhooks.callers
 * (when listed). 0, or 2 with the reason reported. */
static int check_caller(const ag_config_webhooks_t *wh, const char *path, const char *config)
{
    mbedtls_x509_crt crt, ca;
    mbedtls_x509_crt_init(&crt);
    mbedtls_x509_crt_init(&ca);
    uint32_t flags = 0;
    char cn[256];
    const char *why = NULL;
    if (mbedtls_x509_crt_parse_file(&crt, path) != 0)
        why = "is not a PEM certificate";
    else if (mbedtls_x509_crt_parse_file(&ca, wh->tls.client_ca_file) != 0 ||
             mbedtls_x509_crt_verify(&crt, &ca, NULL, NULL, &flags, NULL, NULL) != 0)
        why = "does not verify against webhooks.tls.client_ca: the handshake would fail";
    cert_cn(&crt, cn, sizeof cn);
    bool listed = wh->ncallers == 0;
    for (int i = 0; i < wh->ncallers && !listed; i++)
        listed = ag_str_eq(wh->callers[i], ag_str_cstr(cn));
    if (!why && !listed)
        why = "has a CN that is not among webhooks.callers: the gateway would answer 403";
    if (why)
        fprintf(stderr, "authgate webhook-kubeconfig: %s (CN \"%s\") %s (webhooks of %s)\n", path,
                cn, why, config);
    mbedtls_x509_crt_free(&crt);
    mbedtls_x509_crt_free(&ca);
    return why ? 2 : 0;
}

/* With --config: the default server URL and the caller check. 0 or 2 (reported). */
static int apply_config(wk_args_t *a)
{
    ag_config_t *conf = NULL;
    ag_buf_t err = AG_BUF_INIT(8192);
    int rc = 2;
    if (ag_config_load(a->config, &conf, &err) != 0) {
        fprintf(stderr, "%s\n", err.p ? err.p : "invalid configuration");
        goto out;
    }
    const ag_config_webhooks_t *wh = &conf->webhooks;
    const char *addr = wh->address ? wh->address : conf->listen.address;
    const char *port = strrchr(addr, ':');
    if (!a->server) {
        if (strncmp(addr, "0.0.0.0:", 8) == 0 || strncmp(addr, "[::]:", 5) == 0 || !port ||
            strcmp(port, ":0") == 0 || (!wh->address && !conf->tls.enabled)) {
            fprintf(stderr,
                    "authgate webhook-kubeconfig: %s \"%s\"%s is no address the API server can "
                    "call: give --server https://HOST:PORT\n",
                    wh->address ? "webhooks.address" : "listen.address", addr,
                    !wh->address && !conf->tls.enabled ? " (plain HTTP)" : "");
            goto out;
        }
        snprintf(a->server_buf, sizeof a->server_buf, "https://%s", addr);
        a->server = a->server_buf;
    }
    if (!conf->authn_enabled)
        fprintf(stderr,
                "authgate webhook-kubeconfig: warning: %s has no \"authentication\" "
                "section: the gateway serves no TokenReview\n",
                a->config);
    if (wh->address && a->cert && check_caller(wh, a->cert, a->config) != 0)
        goto out;
    rc = 0;
out:
    ag_config_destroy(conf);
    ag_buf_dispose(&err);
    return rc;
}

/* The server URL: https, a host, no path beyond "/", no query, nothing YAML would need
 * escaped. Trailing "/" dropped. 0 or 2 (reported). */
static int check_server(wk_args_t *a)
{
    const char *u = a->server;
    size_t n = strlen(u);
    bool ok = strncmp(u, "https://", 8) == 0 && n > 8 && n < sizeof a->server_buf &&
              strcspn(u, "?#\"'\\ \t\r\n") == n;
    const char *path = ok ? strchr(u + 8, '/') : NULL;
    if (!ok || (path && strcmp(path, "/") != 0) || path == u + 8) {
        fprintf(stderr,
                "authgate webhook-kubeconfig: --server \"%s\": expected https://HOST[:PORT] "
                "(the API server sends bearer tokens there: https only, no path)\n",
                u);
        return 2;
    }
    if (path) {
        memmove(a->server_buf, u, n - 1);
        a->server_buf[n - 1] = '\0';
        a->server = a->server_buf;
    }
    return 0;
}

/* Appends a YAML double-quoted scalar (JSON escaping is valid there). */
static void yaml_str(ag_buf_t *b, const char *s)
{
    ag_buf_append_cstr(b, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            ag_buf_printf(b, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            ag_buf_printf(b, "\\u%04x", c);
        else
            ag_buf_append(b, s, 1);
    }
    ag_buf_append_cstr(b, "\"");
}

/* "  KEY: VALUE" for a file: its absolute path, or with --embed-certs "KEY-data" and its
 * contents in base64. 0 or 2 (reported). */
static int file_field(ag_buf_t *b, const char *key, const char *path, bool embed)
{
    char abs[PATH_MAX];
    if (!realpath(path, abs)) {
        fprintf(stderr, "authgate webhook-kubeconfig: %s: %s\n", path, strerror(errno));
        return 2;
    }
    if (!embed) {
        ag_buf_printf(b, "    %s: ", key);
        yaml_str(b, abs);
        ag_buf_append_cstr(b, "\n");
        return 0;
    }
    ag_buf_t f = AG_BUF_INIT(FILE_MAX);
    size_t n = 0;
    int rc = 2;
    if (ag_buf_read_file(&f, abs) != 0 || f.n == 0) {
        fprintf(stderr, "authgate webhook-kubeconfig: %s: unreadable, empty or over 1 MiB\n", path);
        goto out;
    }
    mbedtls_base64_encode(NULL, 0, &n, (const unsigned char *)f.p, f.n);
    if (ag_buf_printf(b, "    %s-data: \"", key) != 0 || ag_buf_reserve(b, n) != 0)
        goto out;
    mbedtls_base64_encode((unsigned char *)b->p + b->n, n, &n, (const unsigned char *)f.p, f.n);
    b->n += n;
    rc = ag_buf_append_cstr(b, "\"\n") == 0 ? 0 : 2;
out:
    ag_buf_dispose(&f);
    return rc;
}

/* One kubeconfig for the webhook at <path> into <b>. 0 or 2 (reported). */
static int kubeconfig(ag_buf_t *b, const wk_args_t *a, const char *flag, const char *path)
{
    ag_buf_printf(b,
                  "# kube-apiserver %s (authgate webhook-kubeconfig %s)\n"
                  "apiVersion: v1\nkind: Config\nclusters:\n- name: authgate\n  cluster:\n"
                  "    server: ",
                  flag, ag_version());
    char url[sizeof a->server_buf + 64];
    snprintf(url, sizeof url, "%s%s", a->server, path);
    yaml_str(b, url);
    ag_buf_append_cstr(b, "\n");
    if (a->ca && file_field(b, "certificate-authority", a->ca, a->embed) != 0)
        return 2;
    ag_buf_append_cstr(b, "users:\n- name: kube-apiserver\n  user:\n");
    if (file_field(b, "client-certificate", a->cert, a->embed) != 0 ||
        file_field(b, "client-key", a->key, a->embed) != 0)
        return 2;
    ag_buf_append_cstr(b, "contexts:\n- name: webhook\n  context:\n    cluster: authgate\n"
                          "    user: kube-apiserver\ncurrent-context: webhook\n");
    return b->n < b->max ? 0 : 2;
}

/* Writes <b> to DIR/NAME with mode 0600 (it names or holds a private key). */
static int write_file(const char *dir, const char *name, const ag_buf_t *b, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", dir, name);
    int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    bool ok = fd >= 0 && fchmod(fd, 0600) == 0 && write(fd, b->p, b->n) == (ssize_t)b->n;
    if (fd >= 0 && close(fd) != 0)
        ok = false;
    if (!ok)
        fprintf(stderr, "authgate webhook-kubeconfig: %s: %s\n", out, strerror(errno));
    return ok ? 0 : 2;
}

static const struct {
    const char *kind, *flag, *version_flag, *path, *file;
} hooks[] = {
    {"authentication", "--authentication-token-webhook-config-file",
     "--authentication-token-webhook-version=v1", TR_PATH, "authentication-webhook.kubeconfig"},
    {"authorization", "--authorization-webhook-config-file", "--authorization-webhook-version=v1",
     SAR_PATH, "authorization-webhook.kubeconfig"},
};

/* Builds each selected kubeconfig and prints it or writes it. */
static int emit(const wk_args_t *a)
{
    ag_buf_t flags = AG_BUF_INIT(1u << 16);
    int rc = 0;
    for (size_t i = 0; i < 2 && rc == 0; i++) {
        if (a->webhook && strcmp(a->webhook, hooks[i].kind) != 0)
            continue;
        ag_buf_t b = AG_BUF_INIT(4 * FILE_MAX);
        char path[PATH_MAX + 64];
        rc = kubeconfig(&b, a, hooks[i].flag, hooks[i].path);
        if (rc == 0 && a->out_dir)
            rc = write_file(a->out_dir, hooks[i].file, &b, path, sizeof path);
        else if (rc == 0)
            fwrite(b.p, 1, b.n, stdout);
        if (a->out_dir)
            ag_buf_printf(&flags, "  %s=%s \\\n  %s \\\n", hooks[i].flag, path,
                          hooks[i].version_flag);
        ag_buf_dispose(&b);
    }
    if (rc == 0 && a->out_dir)
        printf("kube-apiserver flags (and add Webhook to --authorization-mode, e.g. "
               "Node,RBAC,Webhook):\n%.*s",
               (int)(flags.n > 3 ? flags.n - 3 : 0), flags.p ? flags.p : "");
    if (rc == 0 && a->out_dir)
        printf("\n");
    ag_buf_dispose(&flags);
    return rc;
}

int ag_cmd_webhook_kubeconfig(int argc, char **argv)
{
    wk_args_t a = {0};
    int rc = parse_args(argc, argv, &a);
    if (rc == 1) {
        fputs(help, stdout);
        return 0;
    }
    if (rc == 0 && a.webhook && strcmp(a.webhook, "authentication") != 0 &&
        strcmp(a.webhook, "authorization") != 0) {
        fprintf(stderr,
                "authgate webhook-kubeconfig: --webhook: authentication or "
                "authorization, not \"%s\"\n",
                a.webhook);
        rc = 2;
    }
    if (rc == 0 && (!a.cert || !a.key)) {
        fprintf(stderr, "authgate webhook-kubeconfig: --client-cert and --client-key are "
                        "required (the webhooks listener knows the API server by them)\n");
        rc = 2;
    }
    if (rc == 0 && a.config)
        rc = apply_config(&a);
    if (rc == 0 && !a.server) {
        fprintf(stderr, "authgate webhook-kubeconfig: give --server or --config\n");
        rc = 2;
    }
    if (rc == 0)
        rc = check_server(&a);
    if (rc == 0)
        rc = emit(&a);
    if (rc == 2 && argc > 0)
        fprintf(stderr, "(authgate webhook-kubeconfig --help for the options)\n");
    return rc;
}

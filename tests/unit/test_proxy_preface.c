/* proxy/net/preface.c: the PROXY protocol trust rule on a main-listener connection's first
 * bytes: required from listen.proxy_protocol.trusted, refused from everyone else. */
#include <arpa/inet.h>
#include <netinet/in.h>

#include "net/preface.h"
#include "testlib.h"

/* One connection's preface under a listener trusting <cidr>, from <peer>. */
typedef struct {
    ag_ipaddr_net_t nets[1];
    ag_config_listen_t l;
    ag_preface_t pf;
    char ip[64]; /* the connection's client address, as http1.c keeps it */
    size_t used;
    const char *msg;
} fx_t;

static void begin(fx_t *f, const char *peer)
{
    struct sockaddr_storage ss = {0};
    if (strchr(peer, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        inet_pton(AF_INET6, peer, &a->sin6_addr);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        inet_pton(AF_INET, peer, &a->sin_addr);
    }
    ag_preface_begin(&f->pf, &f->l, (struct sockaddr *)&ss);
    snprintf(f->ip, sizeof f->ip, "%s", peer);
    f->used = 99;
    f->msg = NULL;
}

static void fx_init(fx_t *f, const char *cidr, const char *peer)
{
    const char *why;
    memset(f, 0, sizeof *f);
    CHECK(ag_ipaddr_net_parse(ag_str_cstr(cidr), &f->nets[0], &why));
    f->l = (ag_config_listen_t){.pp_trusted = f->nets, .pp_ntrusted = 1};
    begin(f, peer);
}

static ag_preface_result take(fx_t *f, const char *p)
{
    return ag_preface_take(&f->pf, p, strlen(p), &f->used, f->ip, sizeof f->ip, &f->msg);
}

TEST(preface_untrusted_peer_passes_anything_but_a_header)
{
    fx_t f;
    fx_init(&f, "10.0.0.0/8", "192.0.2.1");
    CHECK(!f.pf.trusted);
    CHECK_STREQ(f.pf.peer, "192.0.2.1");
    CHECK_EQ(take(&f, "\x16\x03\x01"), AG_PREFACE_PASS);
    CHECK_EQ(f.used, 0);
    CHECK_EQ(take(&f, "GET / HTTP/1.1\r\n"), AG_PREFACE_PASS);
    CHECK_EQ(take(&f, "PRO"), AG_PREFACE_WAIT);
    CHECK_EQ(take(&f, "PROXY "), AG_PREFACE_REFUSE);
    CHECK_STREQ(f.msg, "PROXY protocol header not accepted from this address");
    CHECK_EQ(take(&f, "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"), AG_PREFACE_REFUSE);
    CHECK_STREQ(f.ip, "192.0.2.1"); /* never taken from an untrusted header */
    CHECK(!f.pf.proxied);
    CHECK(!ag_preface_abort(&f.pf, true)); /* a slow untrusted head is not a PROXY error */
}

TEST(preface_trusted_peer_must_send_a_header)
{
    fx_t f;
    fx_init(&f, "10.0.0.0/8", "10.1.1.1");
    CHECK(f.pf.trusted);
    CHECK_EQ(take(&f, "\x16\x03\x01"), AG_PREFACE_REFUSE);
    CHECK_STREQ(f.msg, "a PROXY protocol header is required from this address");
    CHECK_EQ(take(&f, "PROXY TCP4 1.2.3.4 5.6.7.8 1"), AG_PREFACE_WAIT);
    CHECK_EQ(take(&f, "PROXY TCP4 1.2.3.x"), AG_PREFACE_REFUSE);
    CHECK_STREQ(f.msg, "malformed PROXY protocol header");
    char big[200];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "PROXY UNKNOWN ", 14);
    CHECK_EQ(take(&f, big), AG_PREFACE_REFUSE);
    CHECK_STREQ(f.msg, "PROXY protocol header too long");
    CHECK_STREQ(f.ip, "10.1.1.1");
    CHECK(!f.pf.proxied);
}

TEST(preface_trusted_header_names_the_client)
{
    fx_t f;
    fx_init(&f, "::ffff:10.0.0.0/104", "::ffff:10.1.1.1"); /* IPv4 peer, dual-stack socket */
    CHECK(f.pf.trusted);
    CHECK_EQ(take(&f, "PROXY TCP6 2001:db8::7 ::1 1 2\r\nGET"), AG_PREFACE_PASS);
    CHECK_EQ(f.used, strlen("PROXY TCP6 2001:db8::7 ::1 1 2\r\n"));
    CHECK_STREQ(f.ip, "2001:db8::7");
    CHECK(f.pf.proxied);
    begin(&f, "10.1.1.1"); /* UNKNOWN: the connection's own address stands */
    CHECK_EQ(take(&f, "PROXY UNKNOWN\r\n"), AG_PREFACE_PASS);
    CHECK_EQ(f.used, 15);
    CHECK_STREQ(f.ip, "10.1.1.1");
    CHECK(!f.pf.proxied);
}

TEST(preface_abort_counts_only_a_started_header_from_a_trusted_peer)
{
    fx_t f;
    fx_init(&f, "127.0.0.2/32", "127.0.0.2");
    CHECK(!ag_preface_abort(&f.pf, true)); /* nothing came: an idle connection */
    CHECK_EQ(take(&f, "PROXY TCP4 1.2"), AG_PREFACE_WAIT);
    CHECK(ag_preface_abort(&f.pf, true));
    CHECK(ag_preface_abort(&f.pf, false));
    ag_preface_begin(&f.pf, &f.l, NULL); /* unknown peer: never trusted */
    CHECK(!f.pf.trusted);
    CHECK_STREQ(f.pf.peer, "");
}

/* A static peer's wg-quick config on the web console (POST /static/NAME/config): the text
 * common/genconf.c writes for the private key the form gives (what `wiresyncctl genconf
 * NAME --private-key FILE` prints), and its QR code as an inline SVG (libqrencode). The key
 * serves that one response: it is not stored, logged or audited, and every buffer of ours
 * that held it is cleared (OPENSSL_cleanse) before it is freed. */
#ifndef WS_WEB_QR_H
#define WS_WEB_QR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct web;
struct web_req;
struct web_resp;

/* Whether path is a static peer's config form target, /static/NAME/config. */
bool web_qr_path(const char *path);

/* Answers POST /static/NAME/config (its CSRF token already checked) for a client of
 * network (NULL: any): 200 with the config page; 404 no static peer NAME; 400 a
 * private_key that is not base64 of 32 bytes or not NAME's; 500 out of memory. */
void web_static_config(struct web *w, const struct web_req *r, const char *network,
    struct web_resp *out);

/* The QR code of text (8-bit, level M, or L when M cannot hold it) as an <svg> of scale
 * pixels per module, with the 4-module quiet zone, dark modules as one <path>, attributes
 * only (the console's CSP allows no inline style), into f. 0, or -1 with err (too long
 * for a QR code, out of memory). */
int web_qr_svg(FILE *f, const char *text, int scale, char *err, size_t errlen);

#endif

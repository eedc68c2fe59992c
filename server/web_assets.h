/* The web console's static files, as C strings. */
#ifndef WS_WEB_ASSETS_H
#define WS_WEB_ASSETS_H

extern const char web_app_js[];
extern const char web_style_css[];

#endif

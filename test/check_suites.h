/* One suite per module; check_main.c runs them all. */
#ifndef WS_CHECK_SUITES_H
#define WS_CHECK_SUITES_H

#include <check.h>

Suite *netaddr_suite(void);
Suite *cert_suite(void);
Suite *cert_encoding_suite(void);
Suite *cert_groups_suite(void);
Suite *config_suite(void);
Suite *store_suite(void);
Suite *store_file_suite(void);
Suite *store_log_suite(void);
Suite *grpc_suite(void);
Suite *grpc_frame_suite(void);
Suite *validate_suite(void);
Suite *loop_suite(void);
Suite *loop_timer_suite(void);
Suite *backoff_suite(void);
Suite *verify_suite(void);
Suite *verify_crl_suite(void);
Suite *endpoint_suite(void);
Suite *endpoint_next_suite(void);
Suite *reconcile_suite(void);
Suite *reconcile_endpoint_suite(void);
Suite *path_suite(void);
Suite *peerpath_suite(void);
Suite *agent_path_suite(void);
Suite *policy_suite(void);
Suite *policy_cms_suite(void);
Suite *policyset_suite(void);
Suite *policyhold_suite(void);
Suite *pool_suite(void);
Suite *pending_suite(void);
Suite *wg_uapi_suite(void);
Suite *wg_kernel_suite(void);
Suite *wg_suite(void);
Suite *netmon_suite(void);
Suite *peers_suite(void);
Suite *ratelimit_suite(void);
Suite *metrics_suite(void);
Suite *crl_suite(void);
Suite *refused_suite(void);
Suite *pingpolicy_suite(void);
Suite *addrcount_suite(void);
Suite *ratelog_suite(void);
Suite *tlsnames_suite(void);
Suite *confcheck_suite(void);
Suite *refusal_suite(void);
Suite *relay_suite(void);
Suite *relay_refuse_suite(void);
Suite *genconf_path_suite(void);
Suite *hub_suite(void);
Suite *hub_service_suite(void);
Suite *csr_suite(void);

#endif

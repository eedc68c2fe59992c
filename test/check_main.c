/* Runs every unit suite; exits non-zero when any test fails. */
#include "config.h"

#include <stdlib.h>

#include "rpc/log.h"
#include "test/check_suites.h"

int
main(void)
{
	SRunner *sr;
	int failed;

	log_init("check_units", LOG_LEVEL_ERROR);
	sr = srunner_create(netaddr_suite());
	srunner_add_suite(sr, cert_suite());
	srunner_add_suite(sr, cert_encoding_suite());
	srunner_add_suite(sr, cert_groups_suite());
	srunner_add_suite(sr, config_suite());
	srunner_add_suite(sr, store_suite());
	srunner_add_suite(sr, store_file_suite());
	srunner_add_suite(sr, store_log_suite());
	srunner_add_suite(sr, store_join_suite());
	srunner_add_suite(sr, store_token_suite());
	srunner_add_suite(sr, store_audit_suite());
	srunner_add_suite(sr, token_suite());
	srunner_add_suite(sr, grpc_suite());
	srunner_add_suite(sr, grpc_frame_suite());
	srunner_add_suite(sr, h2scan_suite());
	srunner_add_suite(sr, validate_suite());
	srunner_add_suite(sr, loop_suite());
	srunner_add_suite(sr, loop_timer_suite());
	srunner_add_suite(sr, backoff_suite());
	srunner_add_suite(sr, ratelimit_suite());
	srunner_add_suite(sr, verify_suite());
	srunner_add_suite(sr, verify_crl_suite());
	srunner_add_suite(sr, endpoint_suite());
	srunner_add_suite(sr, endpoint_next_suite());
	srunner_add_suite(sr, reconcile_suite());
	srunner_add_suite(sr, reconcile_endpoint_suite());
	srunner_add_suite(sr, path_suite());
	srunner_add_suite(sr, peerpath_suite());
	srunner_add_suite(sr, peerpath_relay_suite());
	srunner_add_suite(sr, linkreport_suite());
	srunner_add_suite(sr, agent_path_suite());
	srunner_add_suite(sr, policy_suite());
	srunner_add_suite(sr, policy_cms_suite());
	srunner_add_suite(sr, policyset_suite());
	srunner_add_suite(sr, policyhold_suite());
	srunner_add_suite(sr, pool_suite());
	srunner_add_suite(sr, pending_suite());
	srunner_add_suite(sr, renew_suite());
	srunner_add_suite(sr, enroll_conf_suite());
	srunner_add_suite(sr, wg_uapi_suite());
	srunner_add_suite(sr, wg_kernel_suite());
	srunner_add_suite(sr, wg_suite());
	srunner_add_suite(sr, netmon_suite());
	srunner_add_suite(sr, peers_suite());
	srunner_add_suite(sr, follower_suite());
	srunner_add_suite(sr, metrics_suite());
	srunner_add_suite(sr, crl_suite());
	srunner_add_suite(sr, refused_suite());
	srunner_add_suite(sr, pingpolicy_suite());
	srunner_add_suite(sr, addrcount_suite());
	srunner_add_suite(sr, ratelog_suite());
	srunner_add_suite(sr, web_suite());
	srunner_add_suite(sr, tlsnames_suite());
	srunner_add_suite(sr, confcheck_suite());
	srunner_add_suite(sr, refusal_suite());
	srunner_add_suite(sr, serverlist_suite());
	srunner_add_suite(sr, relay_suite());
	srunner_add_suite(sr, relay_refuse_suite());
	srunner_add_suite(sr, genconf_path_suite());
	srunner_add_suite(sr, enroll_args_suite());
	srunner_add_suite(sr, hub_suite());
	srunner_add_suite(sr, hub_service_suite());
	srunner_add_suite(sr, csr_suite());
	srunner_add_suite(sr, join_suite());
	srunner_add_suite(sr, issuer_suite());
	srunner_add_suite(sr, verify_chain_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

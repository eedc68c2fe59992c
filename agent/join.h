/* wiresync-agent join: a host that holds nothing but its WireGuard interface asks the
 * server's enrolment listener to join (issue 13), waits for the operator and, approved,
 * writes its certificate and agent.conf and configures the interface. */
#ifndef WS_JOIN_H
#define WS_JOIN_H

/* Runs "wiresync-agent join ARGS..." (argv[0] is "join"). Returns the exit status
 * (wiresync-agent.8, JOINING): 0 joined, 1 error, 2 usage or the server's CA is not the
 * pinned one, 3 denied, 130 interrupted (run it again to resume). */
int join_main(int argc, char **argv);

#endif

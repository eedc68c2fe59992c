/* libFuzzer target: the config parser (common/conf.h through the daemons' real schemas,
 * server/serverconf.h and agent/agentconf.h), from the file bytes to the checked values.
 *
 * Input: one control byte, then the file. Bit 0 picks the agent's schema over the
 * server's. With bit 1 set, the file ends at the first NUL and each NUL-separated string
 * after it is a command-line "--key=value" argument (at most 8). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/agentconf.h"
#include "rpc/log.h"
#include "server/serverconf.h"
#include "test/fuzz/fuzz_util.h"

#define ARGS_MAX 8

static struct fuzz_file file;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_init("fuzz_conf", LOG_LEVEL_ERROR);
	fuzz_file_open(&file, "fuzz_conf");
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *argv[ARGS_MAX + 1], *args[ARGS_MAX], *copy = NULL, err[512];
	size_t flen;
	int argc = 1, n_args = 0, r;

	if (size < 1)
		return 0;
	data++, size--;
	flen = size;
	if (data[-1] & 2) {
		const uint8_t *nul = memchr(data, '\0', size);
		if (nul != NULL) {
			size_t off = (size_t)(nul - data) + 1;
			flen = (size_t)(nul - data);
			copy = malloc(size - off + 1);
			if (copy == NULL)
				return 0;
			memcpy(copy, data + off, size - off);
			copy[size - off] = '\0';
			argv[0] = "wiresyncd";
			for (char *p = copy; argc < ARGS_MAX + 1 && p < copy + (size - off) + 1;
			     p += strlen(p) + 1)
				argv[argc++] = p;
			/* as main() does: only --name=value arguments reach the parser */
			n_args = config_split_args(&argc, argv, args);
		}
	}
	fuzz_file_write(&file, data, flen);
	memset(err, 'x', sizeof(err));
	if (data[-1] & 1) {
		struct agentconf conf;
		struct config_schema schema;
		agentconf_init(&conf, &schema);
		r = agentconf_load(&conf, &schema, file.path, true, n_args, args, err, sizeof(err));
		if (r == 0)
			FUZZ_CHECK(conf.log_level != NULL && conf.backend != NULL &&
			    conf.state_dir != NULL);
		agentconf_free(&conf, &schema);
	} else {
		struct serverconf conf;
		struct config_schema schema;
		serverconf_init(&conf, &schema);
		r = serverconf_load(&conf, &schema, file.path, true, n_args, args, err, sizeof(err));
		if (r == 0)
			FUZZ_CHECK(conf.log_level != NULL && conf.listen != NULL &&
			    conf.database != NULL && conf.certificate != NULL);
		serverconf_free(&conf, &schema);
	}
	/* every refusal explains itself */
	FUZZ_CHECK(r == 0 || (memchr(err, '\0', sizeof(err)) != NULL && err[0] != '\0'));
	free(copy);
	return 0;
}

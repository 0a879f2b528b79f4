/*
 * flavors.h - run a unit test once per liburcu flavor (memb, mb, qsbr,
 * bp), as a Criterion parameterized test: FLAVOR_TEST(name) { use_flavor(p); ... }.
 * Include it instead of util.h, and no flavor header.
 *
 * Only <urcu/flavor.h>: each flavor header (<urcu/urcu-memb.h>,
 * <urcu/urcu-qsbr.h>, ...) #defines the same generic names (rcu_read_lock,
 * rcu_flavor, call_rcu, ...) to its own symbols, so two of them cannot
 * be included in one file.  The four flavor objects are declared here
 * instead; liburcu-memb, -mb, -qsbr and -bp define them.
 */
#ifndef SNAPMAP_TESTS_UNIT_FLAVORS_H
#define SNAPMAP_TESTS_UNIT_FLAVORS_H

#include <urcu/flavor.h>

extern const struct rcu_flavor_struct urcu_memb_flavor;
extern const struct rcu_flavor_struct urcu_mb_flavor;
extern const struct rcu_flavor_struct urcu_qsbr_flavor;
extern const struct rcu_flavor_struct urcu_bp_flavor;

#include <stdatomic.h>
#include <stdio.h>

#include <snapmap.h>

/* The flavor of the running test; util.h's helpers use it. */
static const struct rcu_flavor_struct *ut_flavor;
#define UT_FLAVOR ut_flavor

#include "util.h"

#include <criterion/parameterized.h>

/* ------------------------------------------------------------------ */
/* Parameters                                                          */
/* ------------------------------------------------------------------ */

/*
 * The parameter is an index rather than a pointer to the flavor object:
 * Criterion copies parameters into the test's process, and an index
 * means the same thing in every process.
 */
enum flavor_id { FL_MEMB, FL_MB, FL_QSBR, FL_BP };

struct flavor_param {
	enum flavor_id id;
	char name[8];
};

static struct flavor_param all_flavors[] = {
	{ FL_MEMB, "memb" }, { FL_MB, "mb" }, { FL_QSBR, "qsbr" },
	{ FL_BP, "bp" },
};

static inline const struct rcu_flavor_struct *flavor_of(enum flavor_id id)
{
	switch (id) {
	case FL_MEMB:
		return &urcu_memb_flavor;
	case FL_MB:
		return &urcu_mb_flavor;
	case FL_QSBR:
		return &urcu_qsbr_flavor;
	case FL_BP:
		return &urcu_bp_flavor;
	}
	cr_assert_fail("unknown flavor %d", (int)id);
	return NULL;
}

/* Select the test's flavor and register the test's thread with it. */
static inline void use_flavor(const struct flavor_param *p)
{
	ut_flavor = flavor_of(p->id);
	cr_log_info("flavor %s", p->name);
	ut_flavor->register_thread();
}

static inline void flavor_fini(void)
{
	if (ut_flavor)
		ut_flavor->unregister_thread();
}

/* One parameterized test of @suite, run once per flavor. */
#define FLAVOR_TEST_IN(suite, name)					\
	ParameterizedTestParameters(suite, name)			\
	{								\
		return cr_make_param_array(struct flavor_param,		\
					   all_flavors,			\
					   UT_ARRAY_SIZE(all_flavors));	\
	}								\
	ParameterizedTest(struct flavor_param *p, suite, name,		\
			  .fini = flavor_fini, .timeout = UT_TIMEOUT)
#define FLAVOR_TEST(name)	FLAVOR_TEST_IN(flavor, name)

/* Block on a pthread barrier / join while offline (see the top). */
static inline void offline_barrier_wait(pthread_barrier_t *b)
{
	ut_flavor->thread_offline();
	pthread_barrier_wait(b);
	ut_flavor->thread_online();
}

static inline int offline_join(pthread_t t)
{
	int ret;

	ut_flavor->thread_offline();
	ret = pthread_join(t, NULL);
	ut_flavor->thread_online();
	return ret;
}

#endif /* SNAPMAP_TESTS_UNIT_FLAVORS_H */

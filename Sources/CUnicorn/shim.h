// unicorn (Debian's libunicorn-dev), the reference emulator of the differential tests.
// uc_ctl and uc_hook_add are variadic C, which Swift cannot call: these wrappers can.
#include <unicorn/unicorn.h>

static inline uc_err vl_set_cpu_model(uc_engine *uc, int model) {
  return uc_ctl_set_cpu_model(uc, model);
}

static inline uc_err vl_hook_interrupts(uc_engine *uc, uc_hook *hh, uc_cb_hookintr_t cb, void *user) {
  return uc_hook_add(uc, hh, UC_HOOK_INTR, (void *)cb, user, 1, 0);
}

// Drops translated code for [begin, end): unicorn does not notice uc_mem_write over code.
static inline uc_err vl_remove_translations(uc_engine *uc, uint64_t begin, uint64_t end) {
  return uc_ctl_remove_cache(uc, begin, end);
}

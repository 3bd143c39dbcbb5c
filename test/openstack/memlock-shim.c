/*
 * Preloaded into the test cloud's libvirtd only (stack.ts). Nova gives every realtime guest
 * <memoryBacking><locked/>, and libvirt then raises QEMU's RLIMIT_MEMLOCK with prlimit(). This
 * sandbox lacks CAP_SYS_RESOURCE (memlock hard limit 8 MiB), so that call fails with EPERM and
 * the guest never starts. Here a failed raise of RLIMIT_MEMLOCK alone reports success; QEMU
 * still locks its memory with mlockall() through CAP_IPC_LOCK (qemu.conf keeps the emulator's
 * capabilities), which ignores the limit. A real root (the e2e VM, a compute host) needs none
 * of this. Every other resource, and every call that succeeds, is untouched.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/types.h>

typedef int (*prlimit_fn)(pid_t, enum __rlimit_resource, const struct rlimit *, struct rlimit *);
typedef int (*setrlimit_fn)(__rlimit_resource_t, const struct rlimit *);
typedef int (*prlimit64_fn)(pid_t, enum __rlimit_resource, const struct rlimit64 *, struct rlimit64 *);
typedef int (*setrlimit64_fn)(__rlimit_resource_t, const struct rlimit64 *);

static int memlock_denied(int resource, int rc) {
  return rc != 0 && errno == EPERM && resource == RLIMIT_MEMLOCK;
}

int prlimit(pid_t pid, enum __rlimit_resource resource, const struct rlimit *new_limit,
            struct rlimit *old_limit) {
  prlimit_fn real = (prlimit_fn)dlsym(RTLD_NEXT, "prlimit");
  int rc = real(pid, resource, new_limit, old_limit);
  return memlock_denied(resource, rc) && new_limit != NULL ? 0 : rc;
}

int prlimit64(pid_t pid, enum __rlimit_resource resource, const struct rlimit64 *new_limit,
              struct rlimit64 *old_limit) {
  prlimit64_fn real = (prlimit64_fn)dlsym(RTLD_NEXT, "prlimit64");
  int rc = real(pid, resource, new_limit, old_limit);
  return memlock_denied(resource, rc) && new_limit != NULL ? 0 : rc;
}

int setrlimit(__rlimit_resource_t resource, const struct rlimit *limit) {
  setrlimit_fn real = (setrlimit_fn)dlsym(RTLD_NEXT, "setrlimit");
  int rc = real(resource, limit);
  return memlock_denied(resource, rc) ? 0 : rc;
}

int setrlimit64(__rlimit_resource_t resource, const struct rlimit64 *limit) {
  setrlimit64_fn real = (setrlimit64_fn)dlsym(RTLD_NEXT, "setrlimit64");
  int rc = real(resource, limit);
  return memlock_denied(resource, rc) ? 0 : rc;
}

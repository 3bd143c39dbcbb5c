/**
 * A kernel argument's parameter name as the kernel compares it: its parse_args() (parameq)
 * takes `-` and `_` in a name as the same character, so `default-hugepagesz=1G` sets
 * default_hugepagesz and `nohz-full=` sets nohz_full. Every check of which parameters an
 * argument sets (owned by the plan, given twice) compares these names. The shell scripts do
 * the same in hostprep/common.sh parse_kernel_args.
 */
export function kernelParamName(arg: string): string {
  return arg.split("=")[0].replaceAll("-", "_");
}

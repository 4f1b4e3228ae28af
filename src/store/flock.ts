import { dlopen, FFIType, read } from "bun:ffi";

/**
 * `flock(2)` through bun:ffi: Bun has no binding for it (docs/bun-runtime.md#flock-through-bun-ffi).
 * A flock belongs to the open file description, not to the process and the path: closing some
 * other descriptor of the same file does not drop it (unlike SQLite's POSIX locks), and two
 * opens in one process conflict like two processes do.
 */
const LOCK_EX = 2;
const LOCK_NB = 4;
const EWOULDBLOCK = 11;
const EINTR = 4;

export interface Flock {
  /** True when taken; false when another open file description holds it. Other errors throw. */
  tryExclusive(fd: number): boolean;
  /** Releases the library handle (a lock already taken stays: it belongs to the descriptor). */
  close(): void;
}

export function loadFlock(): Flock {
  let lib: ReturnType<typeof open>;
  try {
    lib = open();
  } catch (cause) {
    throw new Error(
      `cannot load flock from the C library (${(cause as Error).message}); felhom-agent needs glibc on Linux`,
      { cause },
    );
  }
  return {
    tryExclusive(fd) {
      for (;;) {
        if (lib.symbols.flock(fd, LOCK_EX | LOCK_NB) === 0) return true;
        const errnoPtr = lib.symbols.__errno_location();
        const errno = errnoPtr === null ? 0 : read.i32(errnoPtr);
        if (errno === EWOULDBLOCK) return false;
        if (errno === EINTR) continue;
        throw Object.assign(new Error(`flock failed (errno ${errno})`), { errno });
      }
    },
    close() {
      lib.close();
    },
  };
}

function open() {
  return dlopen("libc.so.6", {
    flock: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    __errno_location: { args: [], returns: FFIType.ptr },
  });
}

/**
 * For the long-running `sim` commands: resolves once the first SIGINT or SIGTERM arrived and
 * `stop` settled (a failed stop still resolves, the command exits either way). The listeners
 * are removed on that first signal, so a second one gets the default handling again.
 */
export function stopOnSignal(stop: () => Promise<unknown>): Promise<void> {
  return new Promise<void>((resolve) => {
    const onSignal = () => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      stop().then(
        () => resolve(),
        () => resolve(),
      );
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}

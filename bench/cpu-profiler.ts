/** In-process V8 CPU profiling through the inspector, started and stopped on the parent's request. */
import { writeFile } from 'node:fs/promises';
import { Session } from 'node:inspector/promises';

const SAMPLING_INTERVAL_US = 250;

export class CpuProfiler {
  #session: Session | undefined;

  async start(): Promise<void> {
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: SAMPLING_INTERVAL_US });
    await session.post('Profiler.start');
    this.#session = session;
  }

  /** Stops profiling and writes the profile as a .cpuprofile JSON file. */
  async stop(path: string): Promise<void> {
    const session = this.#session;
    if (!session) throw new Error('the profiler was not started');
    this.#session = undefined;
    const { profile } = await session.post('Profiler.stop');
    session.disconnect();
    await writeFile(path, JSON.stringify(profile));
  }
}

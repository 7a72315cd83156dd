/**
 * @cifar-dist/dashboard — a live run page for the coordinator: a node:http server that keeps a
 * bounded snapshot of published run events and streams them to a Vega-Lite page over
 * Server-Sent Events. This file is the library's only public door.
 */
export { startDashboard, type Dashboard, type DashboardOptions } from './server.js';
export { STEP_WINDOW, StepAverager, type AveragedStep, type RunningStep } from './step-average.js';
export type {
  DashboardEvent,
  DashboardMessage,
  DashboardSnapshot,
  DashboardWorker,
  EpochEvent,
  PhaseEvent,
  RunEvent,
  RunState,
  StatusEvent,
  StepEvent,
  WorkersEvent,
} from './types.js';

/** Hooks the edge uses for logs and metrics; the app calls them, never the other way round. */
import type { GatewayError } from '../core/errors';
import type { Attribution, RequestOutcome } from '../core/gatekeeper';

export interface RequestEndedEvent {
  requestId: string;
  model: string;
  attribution: Attribution;
  outcome: RequestOutcome;
  /** Prompt and completion text: present only when the key opted in (`attribution.logContent`). */
  content?: { prompt: string; completion: string };
}

export interface RequestRejectedEvent {
  requestId: string;
  model: string;
  error: GatewayError;
}

export interface RequestObserver {
  requestEnded?(event: RequestEndedEvent): void;
  rejected?(event: RequestRejectedEvent): void;
  attemptFailed?(requestId: string, provider: string, error: GatewayError): void;
  internalError?(requestId: string, error: unknown): void;
}

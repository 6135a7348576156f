/**
 * The API surfaces the gateway serves, declared as data: registering one is one line here plus its folder
 * (see the guide at the top of app/pipeline.ts).
 */
import type { Route } from '../pipeline';
import { chatCompletions } from './chat-completions';
import { embeddings } from './embeddings';
import { countTokens, messages } from './messages';
import { responses } from './responses';

export const ROUTES: readonly Route[] = [chatCompletions, messages, countTokens, responses, embeddings];

/**
 * The store's document commands (lambda/store/lean-commands.ts) carry the same key-node maps as
 * @aws-sdk/lib-dynamodb's, so both are marshalled alike, and name the operation lib-dynamodb's wraps.
 */
import * as sdk from '@aws-sdk/lib-dynamodb';
import * as lean from '../../../lambda/store/lean-commands';

const NAMES = ['PutCommand', 'GetCommand', 'UpdateCommand', 'DeleteCommand', 'QueryCommand', 'ScanCommand', 'BatchGetCommand', 'BatchWriteCommand', 'TransactWriteCommand', 'TransactGetCommand'] as const;

type Shape = { inputKeyNodes: unknown; outputKeyNodes: unknown; clientCommand?: object; operation?: string; input: unknown };

describe('Lean document commands', () => {
  it.each(NAMES)('%s marshals the members lib-dynamodb’s does, for the same operation', (name) => {
    const input = { TableName: 't' };
    const ours = new (lean[name] as unknown as new (i: object) => Shape)(input);
    const theirs = new (sdk[name] as unknown as new (i: object) => Shape)(input);
    expect(ours.inputKeyNodes).toEqual(theirs.inputKeyNodes);
    expect(ours.outputKeyNodes).toEqual(theirs.outputKeyNodes);
    expect(`${ours.operation}Command`).toBe(theirs.clientCommand?.constructor.name);
    expect(ours.input).toBe(input);
    expect(ours).toBeInstanceOf(lean.DocumentCommand);
  });
});

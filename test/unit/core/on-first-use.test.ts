import { onFirstUse } from '../../../lambda/core/on-first-use';

describe('Method: onFirstUse', () => {
  it('builds nothing until asked, then once, whatever it returned (undefined included)', () => {
    let builds = 0;
    const value = onFirstUse(() => {
      builds++;
      return undefined;
    });
    expect(builds).toBe(0);
    expect(value()).toBeUndefined();
    expect(value()).toBeUndefined();
    expect(builds).toBe(1);
  });

  it('hands out the same object every time', () => {
    const value = onFirstUse(() => ({ at: Math.random() }));
    expect(value()).toBe(value());
  });
});

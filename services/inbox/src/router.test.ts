import { describe, expect, it } from 'vitest';
import { routeOf } from './router.ts';

describe('routeOf', () => {
  it('maps paths to screens, anything unknown to the inbox', () => {
    const id = '0b8e4f7a-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
    expect(routeOf(`/c/${id}`)).toEqual({ screen: 'inbox', conversationId: id });
    expect(routeOf('/sessions')).toEqual({ screen: 'sessions' });
    expect(routeOf('/team?x=1')).toEqual({ screen: 'team' });
    expect(routeOf('/settings')).toEqual({ screen: 'settings' });
    expect(routeOf('/assistant')).toEqual({ screen: 'assistant' });
    expect(routeOf('/scheduled')).toEqual({ screen: 'scheduled' });
    expect(routeOf('/quick-replies')).toEqual({ screen: 'quick-replies' });
    expect(routeOf('/settings/security')).toEqual({ screen: 'security' });
    expect(routeOf('/accept-invite')).toEqual({ screen: 'accept-invite' });
    expect(routeOf('/two-factor')).toEqual({ screen: 'two-factor' });
    expect(routeOf('/c/not-an-id')).toEqual({ screen: 'inbox', conversationId: undefined });
  });
});

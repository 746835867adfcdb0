import { ScheduledList } from '../components/scheduled.tsx';
import { navigate } from '../router.ts';

/** Every pending scheduled message of the tenant (schedule them from a conversation's composer), with Cancel. */
export function ScheduledPage() {
  return (
    <div className="page">
      <h1>Scheduled messages</h1>
      <p className="muted">Times are in your time zone. Schedule a message from a conversation's composer.</p>
      <ScheduledList onOpen={(id) => navigate(`/c/${id}`)} />
    </div>
  );
}

// Entry point of the fleet view's page (`flash-station fleet`): takes the view's token from the address and mounts it.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { FleetApp } from './views/fleet-app.js';
import './styles.css';

const params = new URLSearchParams(location.search);
const given = params.get('token');
if (given) {
  sessionStorage.setItem('fleetToken', given);
  history.replaceState(null, '', location.pathname);
}
const root = document.getElementById('root');
if (!root) throw new Error('fleet.html lacks #root');
createRoot(root).render(
  <StrictMode>
    <FleetApp fleetToken={sessionStorage.getItem('fleetToken') ?? ''} />
  </StrictMode>,
);

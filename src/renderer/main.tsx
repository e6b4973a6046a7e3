// Entry point of the renderer: takes the token (address or desktop preload) and mounts the app.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app.js';
import { takeToken } from './lib/session.js';
import './styles.css';

const token = takeToken();
const root = document.getElementById('root');
if (!root) throw new Error('index.html lacks #root');
createRoot(root).render(
  <StrictMode>
    <App initialToken={token} />
  </StrictMode>,
);

// rococo in one process: the app of rococo-app.ts on app.listen().
import app from './rococo-app';
const c = require('../servers/common');

app.listen(c.PORT, c.HOST).catch((err) => {
  console.error(err);
  process.exit(1);
});

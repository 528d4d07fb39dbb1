// Old links (chat.html?room=ID) open the conversation in the one page.
const room = new URLSearchParams(location.search).get("room");
location.replace(room && /^\d+$/.test(room) ? `./?room=${room}` : "./");

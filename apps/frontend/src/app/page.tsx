import TodoApp from "@/components/TodoApp";

// A static shell: the list is loaded in the browser through /api/todos,
// so building the page never needs the backend.
export default function Home() {
  return (
    <main>
      <h1>Todos</h1>
      <TodoApp />
    </main>
  );
}
